"""CIFAR-100's own per-channel statistics (fractions of 255): the reference's normalisation for CIFAR-100N.
Kept apart from cifar100n.py so core/data.py can re-export them without registering that data set early."""

CIFAR100_MEAN = (0.5071, 0.4867, 0.4408)
CIFAR100_STD = (0.2675, 0.2565, 0.2761)
