"""Every model module, imported so that Alembic and ``Base.metadata`` see the whole schema."""

from mobilise.comms import models as comms_models  # noqa: F401
from mobilise.core import audit, auth, limits, progress  # noqa: F401
from mobilise.core.db import Base
from mobilise.devices import models as devices_models  # noqa: F401
from mobilise.drives import models as drives_models  # noqa: F401
from mobilise.finance import models as finance_models  # noqa: F401
from mobilise.migration import models as migration_models  # noqa: F401
from mobilise.people import models as people_models  # noqa: F401
from mobilise.retention import models as retention_models  # noqa: F401
from mobilise.rollout import models as rollout_models  # noqa: F401

metadata = Base.metadata
