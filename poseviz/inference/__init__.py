"""Model + data -> `Prediction`; 2D detectors for video in the wild.

Video in the wild: `poseviz.inference.video` (`track_video`, `video_to_sequence`,
`detect_video`) and `poseviz.inference.detect` (MediaPipe BlazePose -> h36m17). MediaPipe is
an optional extra; importing this package does not load it.
"""
