"""The variable-size autoencoder family: MLP and conv autoencoders with a TD latent layer, their
variants and baselines (no TD, fixed widths, PCA, PCAAE), sweeps, features, claims, gap report."""
