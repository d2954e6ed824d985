"""Model + data -> `Prediction`; 2D detectors for video in the wild."""
