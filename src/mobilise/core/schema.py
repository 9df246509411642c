"""Every model module, imported so that Alembic and ``Base.metadata`` see the whole schema."""

from mobilise.comms import models as comms_models  # noqa: F401
from mobilise.core import audit, auth, progress  # noqa: F401
from mobilise.core.db import Base
from mobilise.people import models as people_models  # noqa: F401
from mobilise.rollout import models as rollout_models  # noqa: F401

metadata = Base.metadata
