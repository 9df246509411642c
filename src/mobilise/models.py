"""Every model module, imported so that ``Base.metadata`` holds the whole schema.

This aggregate lives above the domains rather than in ``core``: ``core`` knows no domain.
Import it wherever a process starts to use the database (the CLI, the web app, the
workers, Alembic's environment, the tests): a foreign key or relationship to a model
nobody imported cannot be resolved at the first flush.
"""

from mobilise.comms import models as comms_models  # noqa: F401
from mobilise.core import audit, auth, limits, progress  # noqa: F401
from mobilise.core.db import Base
from mobilise.devices import models as devices_models  # noqa: F401
from mobilise.drives import models as drives_models  # noqa: F401
from mobilise.endpoints import models as endpoints_models  # noqa: F401
from mobilise.finance import models as finance_models  # noqa: F401
from mobilise.migration import models as migration_models  # noqa: F401
from mobilise.people import models as people_models  # noqa: F401
from mobilise.retention import models as retention_models  # noqa: F401
from mobilise.rollout import models as rollout_models  # noqa: F401

metadata = Base.metadata
