"""The class maps of `data.noise_type = "asymmetric"` (Patrini et al., CVPR 2017), shared by the data sets
of the same classes: {source class: target class}. Explained in core/label_noise.py."""

CIFAR10_FLIPS = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}  # truck→automobile, bird→airplane, deer→horse, cat↔dog
DIGIT_FLIPS = {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}
