"""Dataset readers (one module per format), demo data, virtual cameras, occlusion labels,
synthetic images, clip sampling. Everything is read into `poseviz.structures.PoseSequence`.
"""
