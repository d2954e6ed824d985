"""Training objectives of the five papers, each a function plus an ``nn.Module`` calling it."""
