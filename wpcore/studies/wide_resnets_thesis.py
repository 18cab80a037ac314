"""The thesis's numbers for the Wide ResNets chapter (thesis ch. 3, BMVC 2016), with their source tags:
what ``wide_resnets`` (the experiments), ``wide_resnets_claims`` (the verdicts), the explorer and the page
compare ours with. Sources: ``../shared/reference/thesis.md`` §3.
"""
from __future__ import annotations

# Thesis numbers: CIFAR test error (%), meanstd preprocessing unless said otherwise.
# Source tags as in the reference sheet: R = official repository, T = third-party quote of
# the paper, U = recalled from the paper, unverified.
THESIS = {
    "wrn-28-10": {"params": 36_479_194, "cifar-10": 4.00, "cifar-100": 19.25, "source": "Table 5 [R]"},
    "wrn-28-10-dropout": {
        "params": 36_479_194,
        "cifar-10": 3.89,
        "cifar-100": 18.85,
        "source": "Table 6 [R]",
    },
    "wrn-40-4": {"params": 8_949_210, "cifar-10": 4.53, "cifar-100": 21.18, "source": "Table 5 [T]"},
    "wrn-16-8": {"params": 10_961_370, "cifar-10": 4.27, "cifar-100": 20.43, "source": "Table 5 [U]"},
    "pre-resnet-164": {"params": 1_700_000, "cifar-10": 5.46, "cifar-100": 24.33, "source": "Table 5 [R]"},
    "pre-resnet-1001": {"params": 10_200_000, "cifar-10": 4.92, "cifar-100": 22.71, "source": "Table 5 [R]"},
}
# Table 4 (ZCA whitening, width/depth sweep): CIFAR-10 error (%), [U] unless tagged
TABLE4_ZCA = {
    (40, 1): (6.85, "U"),
    (40, 2): (5.33, "U"),
    (40, 4): (4.97, "T"),
    (40, 8): (4.66, "U"),
    (28, 10): (4.17, "T"),
    (28, 12): (4.33, "U"),
    (22, 8): (4.38, "U"),
    (22, 10): (4.44, "U"),
    (16, 8): (4.81, "U"),
    (16, 10): (4.56, "U"),
}
# Table 2 (block types, WRN-d-2, CIFAR-10 error %) [U]; the reference gives d = 28 for B(3,3) and
# d = 22 for B(3,1,3); d = 40 for the four others is recalled from the paper, unverified
TABLE2_BLOCKS = {
    "B(3,3)": (28, 5.73),
    "B(3,1,3)": (22, 5.78),
    "B(1,3,1)": (40, 6.06),
    "B(3,1)": (40, 5.78),
    "B(1,3)": (40, 6.42),
    "B(3,1,1)": (40, 5.86),
}
# Table 3 (deepening factor l at equal size, WRN-40-2 with B(3,3), CIFAR-10 error %) [U]
TABLE3_DEEPENING = {1: 6.69, 2: 5.43, 3: 5.65, 4: 5.93}
# Table 6 (dropout in the block, meanstd): (without, with) error %; SVHN dropout 0.4, CIFAR 0.3
TABLE6_DROPOUT = {
    ("wrn-28-10", "cifar-10"): (4.00, 3.89, "R"),
    ("wrn-28-10", "cifar-100"): (19.25, 18.85, "R"),
    ("wrn-16-4", "svhn"): (1.85, 1.64, "U"),
    ("wrn-16-4", "cifar-10"): (5.02, 5.24, "U"),
}
