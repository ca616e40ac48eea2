"""The classifier-head family: a head with TD on both hidden layers, trained on cached features
(VGG19 on ImageNet, a small VGG-style backbone on Fashion-MNIST, the digits' pixels), with its
baselines (reference, ranked cut, truncated SVD, fixed widths), sweeps, table and claims."""
