"""Building blocks shared by several model families (graphs over the skeleton, backbones).

Import the submodules directly (``from poseviz.models.layers.hourglass import ...``)."""
