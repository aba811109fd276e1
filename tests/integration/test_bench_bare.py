"""The yardstick of issue 10 (bench/bare.py) does the database work it claims: a 20-field form from one row, a
statement-shaped row and an outbox row per signing, a confirmation that flips the row once and counts once."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from bench import bare

pytestmark = pytest.mark.postgres

SIGNER = {
    "country": "PL",
    "first_names": "Anna",
    "family_names": "Nowak",
    "id_type": "personal_number",
    "id_number": "44051401359",
    "email": "Anna@Example.org",
    "privacy_consent": "y",
    "declaration": "y",
}


def test_the_bare_app_signs_and_confirms_on_postgresql(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database(f"bench_bare_{uuid.uuid4().hex[:8]}")
    bare.create_schema(url)
    app = bare.create_app(url, "http://bench.example")
    client = app.test_client()
    engine = sa.create_engine(url)

    form = client.get("/form?country=PL").get_data(as_text=True)
    assert len(set(re.findall(r'<(?:input|select) id="[^"]+" name="([^"]+)"', form))) == 20
    assert '<option value="PL" selected>Poland</option>' in form

    assert client.post("/sign", data={**SIGNER, "declaration": ""}).status_code == 422
    response = client.post("/sign", data=SIGNER)
    assert response.status_code == 303
    with engine.connect() as connection:
        statements = connection.execute(sa.text("SELECT status, country_code, length(sealed_data) FROM bare_statement"))
        assert statements.all() == [("pending", "PL", bare.SEALED_SIZE)]
        [(to, body)] = connection.execute(sa.text("SELECT to_address, body_text FROM bare_outbox")).all()
    assert to == "anna@example.org"
    [link] = re.findall(r"http://bench\.example(/confirm/\S+)", body)

    assert "citizen of Poland" in client.get(link).get_data(as_text=True)
    for _press in range(2):  # pressed twice, counted once
        assert client.post(link).status_code == 200
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status FROM bare_statement")).scalar_one() == "confirmed"
        counted = connection.execute(sa.text("SELECT confirmed_count FROM bare_country WHERE country_code = 'PL'"))
        assert counted.scalar_one() == 1
    assert client.get(f"/confirm/{uuid.uuid4()}").status_code == 404
    engine.dispose()
    app.extensions["bare.engine"].dispose()
