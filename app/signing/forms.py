"""The sign form's input rules (Annex III): which fields a country needs, and what makes each one valid."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField

from ..eci.age import old_enough
from ..eci.countries import is_country
from ..eci.fields import required_fields
from ..eci.id_numbers import InvalidNumber, birth_date_from_number, validate_number
from ..eci.member_states import member_states
from ..models import InitiativeCountry

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # the contract's YYYY-MM-DD, used with fullmatch

MAX_LENGTHS = {
    "first_names": 200,
    "family_names": 200,
    "street": 200,
    "postal_code": 16,
    "city": 100,
    "id_number": 40,
    "email": 254,
}

ID_TYPE_LABELS = {
    "personal_number": _l("Personal identification number"),
    "id_card": _l("Identity card"),
    "passport": _l("Passport"),
    "citizen_card": _l("Citizen card"),
}


def _has_control_characters(text: str) -> bool:
    """Control and format characters (Cc, Cf, Cs, Co, Cn) never belong in a name, an address or a number."""
    return any(unicodedata.category(ch).startswith("C") for ch in text)


class SignForm(FlaskForm):
    """Field names are the contract's (CONTRACT.md, "Signing, over HTTP")."""

    country = SelectField(_l("Member state of your nationality"), choices=[], validate_choice=False)
    first_names = StringField(_l("First names (all of them)"))
    family_names = StringField(_l("Family names"))
    date_of_birth = StringField(_l("Date of birth"))
    street = StringField(_l("Street and number"))
    postal_code = StringField(_l("Postal code"))
    city = StringField(_l("City"))
    residence_country = SelectField(_l("Country of residence"), choices=[], validate_choice=False)
    id_type = SelectField(_l("Type of document"), choices=[], validate_choice=False)
    id_number = StringField(_l("Document number"))
    age_confirm = BooleanField(_l("I am old enough to sign"))
    email = EmailField(_l("Email address"))
    privacy_consent = BooleanField(_l("I have read the privacy statement"))
    updates_consent = BooleanField(_l("Send me updates about this initiative (optional)"))


@dataclass(frozen=True)
class SignerInput:
    """What a valid submission holds, typed and cleaned; the personal part is sealed, never stored as is."""

    country: str
    first_names: str
    family_names: str
    date_of_birth: date | None
    street: str
    postal_code: str
    city: str
    residence_country: str
    id_type: str
    id_number: str
    id_number_key: str  # the checked, compact form that identifies the document (fingerprint input)
    email: str
    updates_consent: bool

    def personal_data(self) -> dict[str, str]:
        """The fields that go into the sealed blob, as the signer typed them (Unicode NFC)."""
        values = {
            "first_names": self.first_names,
            "family_names": self.family_names,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else "",
            "street": self.street,
            "postal_code": self.postal_code,
            "city": self.city,
            "residence_country": self.residence_country,
            "id_type": self.id_type,
            "id_number": self.id_number,
        }
        return {key: unicodedata.normalize("NFC", value) for key, value in values.items()}


def _text(form: SignForm, name: str) -> str:
    value = getattr(form, name).data
    return value.strip() if isinstance(value, str) else ""


def validate_submission(
    form: SignForm, countries: dict[str, InitiativeCountry], today: date, check_deliverability: bool = False
) -> SignerInput | None:
    """Check every field for the chosen country; put each error beside its field; None if any failed."""
    errors: dict[str, str] = {}
    country = _text(form, "country").upper()
    rules = countries.get(country)
    if rules is None:
        errors["country"] = _("Choose the member state of your nationality.")

    values: dict[str, str] = {}
    names = ("first_names", "family_names", "street", "postal_code", "city", "id_number", "email")
    for name in names:
        value = _text(form, name)
        if _has_control_characters(value):
            errors[name] = _("This contains characters that are not allowed.")
        elif len(value) > MAX_LENGTHS[name]:
            errors[name] = _("This is too long (at most %(n)d characters).", n=MAX_LENGTHS[name])
        values[name] = value

    needed = required_fields(country) if rules else ("first_names", "family_names")
    for name in ("first_names", "family_names", "street", "postal_code", "city", "id_number"):
        if name in needed and name not in errors and not values[name]:
            errors[name] = _("This field is required.")
    for name in ("first_names", "family_names", "city"):
        if name in needed and values[name] and name not in errors and not any(ch.isalpha() for ch in values[name]):
            errors[name] = _("Please write this in letters.")

    birth: date | None = None
    residence = ""
    id_type = ""
    id_number = ""
    if rules is not None and rules.data_part == "A":
        raw = _text(form, "date_of_birth")
        if not raw:
            errors["date_of_birth"] = _("This field is required.")
        else:
            try:
                if not ISO_DATE.fullmatch(raw):  # fromisoformat alone also takes "19800229" and week dates "1980-W01-1"
                    raise ValueError(raw)
                birth = date.fromisoformat(raw)
            except ValueError:
                errors["date_of_birth"] = _("Enter the date as YYYY-MM-DD, for example 1990-03-25.")
            else:
                if birth > today or birth.year < 1900:
                    errors["date_of_birth"] = _("Enter your real date of birth.")
                elif not old_enough(birth, today, rules.min_age):
                    errors["date_of_birth"] = _(
                        "Citizens of %(country)s can sign from the age of %(age)d.",
                        country=member_states()[country].name,
                        age=rules.min_age,
                    )
        residence = _text(form, "residence_country").upper()
        if not residence:
            errors["residence_country"] = _("This field is required.")
        elif not is_country(residence):
            errors["residence_country"] = _("Choose a country from the list.")
    elif rules is not None:
        id_type = _text(form, "id_type")
        if id_type not in rules.id_type_list:
            errors["id_type"] = _("Choose one of the documents listed for your country.")
        elif "id_number" not in errors:
            try:
                id_number = validate_number(country, id_type, values["id_number"])
            except InvalidNumber:
                errors["id_number"] = _("This is not a valid number for this document. Check it and try again.")
            else:
                birth_from_number = birth_date_from_number(country, id_type, id_number)
                if birth_from_number is not None:
                    if not old_enough(birth_from_number, today, rules.min_age):
                        errors["id_number"] = _(
                            "Citizens of %(country)s can sign from the age of %(age)d.",
                            country=member_states()[country].name,
                            age=rules.min_age,
                        )
                elif not form.age_confirm.data:
                    errors["age_confirm"] = _("Confirm that you are at least %(age)d years old.", age=rules.min_age)

    email = ""
    if "email" not in errors:
        if not values["email"]:
            errors["email"] = _("Enter your email address: you will confirm your support from it.")
        else:
            try:
                email = validate_email(values["email"], check_deliverability=check_deliverability).normalized
            except EmailNotValidError:
                errors["email"] = _("Enter a valid email address, like name@example.org.")
    if not form.privacy_consent.data:
        errors["privacy_consent"] = _("You need to accept the privacy statement to sign.")

    for name, message in errors.items():
        getattr(form, name).errors = [message]
    if errors or rules is None:
        return None
    part_a = rules.data_part == "A"
    return SignerInput(
        country=country,
        first_names=values["first_names"],
        family_names=values["family_names"],
        date_of_birth=birth if part_a else None,
        street=values["street"] if part_a else "",
        postal_code=values["postal_code"] if part_a else "",
        city=values["city"] if part_a else "",
        residence_country=residence if part_a else "",
        id_type=id_type,
        id_number=values["id_number"] if not part_a else "",
        id_number_key=id_number,
        email=email,
        updates_consent=bool(form.updates_consent.data),
    )
