"""The burgerservicenummer: nine digits that pass the elfproef."""


class InvalidBsn(ValueError):
    pass


def normalise_bsn(value: str) -> str:
    """Return the BSN as nine digits, or raise InvalidBsn with a reason a person can act on."""
    digits = value.replace(" ", "").replace(".", "")
    if len(digits) == 8 and digits.isdigit():
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit():
        raise InvalidBsn("Een BSN heeft 9 cijfers.")
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    if total % 11 != 0 or digits == "000000000":
        raise InvalidBsn("Dit BSN klopt niet (elfproef).")
    return digits
