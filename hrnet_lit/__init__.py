"""hrnet-lit: HRNet (V1 / V2 / V2p / HRNet-C) for research on PyTorch Lightning."""

__version__ = "0.1.0"
