"""Datasets, synthetic data, patches, augmentation and the online-tokenizing DataModule."""
