"""Length units: OME's PhysicalSize*Unit symbols and the unit labels objects tables write."""

from __future__ import annotations

# micrometres per unit; OME UnitsLength symbols plus the spellings real tables use
MICROMETRES_PER_UNIT = {
    "pm": 1e-6, "nm": 1e-3, "µm": 1.0, "μm": 1.0, "um": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6,
    "Å": 1e-4, "nanometer": 1e-3, "nanometers": 1e-3, "micrometer": 1.0, "micrometers": 1.0,
    "micron": 1.0, "microns": 1.0, "micrometre": 1.0, "micrometres": 1.0,
    "millimeter": 1e3, "millimeters": 1e3,
}
OME_DEFAULT_UNIT = "µm"  # OME 2016-06: PhysicalSizeXUnit defaults to µm


def micrometres_per(unit: str | None) -> float | None:
    """Micrometres in one ``unit`` (None: an unknown unit). An absent unit is OME's default, µm."""
    if unit is None or not str(unit).strip():
        return 1.0
    text = str(unit).strip()
    return MICROMETRES_PER_UNIT.get(text, MICROMETRES_PER_UNIT.get(text.lower()))


def to_micrometres(value: float | None, unit: str | None) -> float | None:
    factor = micrometres_per(unit)
    if value is None or factor is None:
        return None
    return float(value) * factor
