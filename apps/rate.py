"""The rater app of a MOS study.

    POSEVIZ_RATING_DB=study.db panel serve apps/rate.py --plugins poseviz.rating.api

Raters open the invite link ``.../rate?token=...``; ``poseviz rating invite`` prints them.
"""

import panel as pn

from poseviz.rating.api import service_from_env
from poseviz.rating.protocol import RatingError
from poseviz.viz.rater import RaterApp

pn.extension(notifications=True)

token = pn.state.session_args.get("token", [b""])[0].decode()
try:
    page = RaterApp(service_from_env(), token)
except RatingError as err:
    page = pn.pane.Alert(str(err), alert_type="danger")
pn.template.FastListTemplate(title="poseviz - pose similarity study", main=[page]).servable()
