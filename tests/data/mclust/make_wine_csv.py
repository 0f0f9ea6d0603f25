"""Writes wine.csv: the 13-D UCI wine data (178 x 13) as scikit-learn ships it (sklearn.datasets.load_wine, no
download), for make_reference.R and the tests. Run once: python tests/data/mclust/make_wine_csv.py"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

wine = load_wine()
header = ",".join(name.replace("/", "_") for name in wine.feature_names)
np.savetxt(Path(__file__).with_name("wine.csv"), wine.data, delimiter=",", header=header, comments="", fmt="%.10g")
