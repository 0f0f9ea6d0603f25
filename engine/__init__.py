"""GMM Studio's engine: numpy + torch + pyro only (never Qt). The GUI and CLI use what is exported here."""

from .config import ALGORITHMS, COVARIANCE_TYPES, INIT_METHODS, FitConfig, InitParams
from .errors import DataError, ParamsError, UserError
from .fit import check_data, fit, run_to_end
from .snapshot import CancelToken, RestartTable, Snapshot

__all__ = [
    "ALGORITHMS", "COVARIANCE_TYPES", "INIT_METHODS", "CancelToken", "DataError", "FitConfig", "InitParams",
    "ParamsError", "RestartTable", "Snapshot", "UserError", "check_data", "fit", "run_to_end",
]
