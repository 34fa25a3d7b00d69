"""Use a client generated from the served /openapi.json (run by test_api_client.py in the
generator's own virtual environment, the generated package on PYTHONPATH):

    python api_client_probe.py BASE_URL ADMIN_TOKEN STATION_ID NDJSON_FILE

Through the generated functions only: issue the station's token (admin), upload the
NDJSON file with it (station), upload once with a wrong token, read every alarm back
(the admin token as reader), and print one JSON object of what the typed answers said.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from anxin_api_client import AuthenticatedClient
from anxin_api_client.api.administration import issue_station_token
from anxin_api_client.api.alarms import list_alarms
from anxin_api_client.api.devices import upload_records
from anxin_api_client.models import AlarmPage, Error, StationToken, UploadResult
from anxin_api_client.types import File


def main(base_url: str, admin_token: str, station_id: str, ndjson: Path) -> dict:
    admin = AuthenticatedClient(base_url=base_url, token=admin_token, raise_on_unexpected_status=True)
    issued = issue_station_token.sync(station_id, client=admin)
    assert isinstance(issued, StationToken), issued
    station = AuthenticatedClient(base_url=base_url, token=issued.token, raise_on_unexpected_status=True)
    sent = upload_records.sync_detailed(client=station, body=File(payload=ndjson.read_bytes()))
    result = sent.parsed
    assert isinstance(result, UploadResult), sent.content

    stranger = AuthenticatedClient(base_url=base_url, token="not-a-token", raise_on_unexpected_status=True)
    refused = upload_records.sync_detailed(client=stranger, body=File(payload=ndjson.read_bytes()))
    assert isinstance(refused.parsed, Error), refused.content

    alarms, after = [], 0
    while True:
        page = list_alarms.sync(client=admin, after=after, limit=2)  # small pages: `next` is followed
        assert isinstance(page, AlarmPage), page
        alarms += [a.to_dict() for a in page.alarms]
        if not page.alarms:
            break
        after = page.next_
    return {
        "upload_status": int(sent.status_code),
        "upload": result.to_dict(),
        "refused_status": int(refused.status_code),
        "refused_detail": refused.parsed.detail,
        "alarms": alarms,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])), ensure_ascii=False))
