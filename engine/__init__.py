"""Transfer Studio engine. Importing it switches Hugging Face libraries to offline mode
(before any of them can be imported), so no code path reaches the network by accident;
only `transfer-studio pack` lifts that, explicitly."""
from .offline import enforce_offline_env as _enforce_offline_env

__version__ = "0.1.0"

_enforce_offline_env()
