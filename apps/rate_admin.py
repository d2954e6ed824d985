"""Admin view of MOS studies; serve it behind authentication:

    POSEVIZ_RATING_DB=study.db panel serve apps/rate_admin.py \\
        --basic-auth admins.json --cookie-secret "$(openssl rand -hex 32)"
"""

import os

import panel as pn

from poseviz.rating.store import Store
from poseviz.viz.rating_admin import AdminView

pn.extension("tabulator", notifications=True)

if not pn.state.user:
    page = pn.pane.Alert(
        "This page needs authentication: serve it with --basic-auth or OAuth.", alert_type="danger"
    )
else:
    page = AdminView(Store(os.environ["POSEVIZ_RATING_DB"], create=False))
pn.template.FastListTemplate(title="poseviz - rating admin", main=[page]).servable()
