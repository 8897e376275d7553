"""Translations: every user-visible string goes through :func:`tr` (one context, ``cpted``)."""

from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import QCoreApplication, QLocale, QSettings, QTranslator

CONTEXT = "cpted"
_translators: list[QTranslator] = []  # kept alive while installed


def tr(text: str) -> str:
    """``text`` in the user's language (English when there is no translation)."""
    return QCoreApplication.translate(CONTEXT, text)


def noop(text: str) -> str:
    """Mark ``text`` for translation where it is defined; translate it with :func:`tr` where shown."""
    return text


def user_locale() -> str:
    """The two-letter language QGIS is set to (its own setting, else the system's)."""
    settings = QSettings()
    if settings.value("locale/overrideFlag", False, type=bool):
        locale = settings.value("locale/userLocale", "", type=str)
    else:
        locale = settings.value("locale/globalLocale", "", type=str) or QLocale.system().name()
    return (locale or "en")[:2]


def report_lang() -> str:
    """The language of cpted's HTML reports: QGIS's when the reports exist in it (en, fr), else English."""
    locale = user_locale()
    return locale if locale in ("en", "fr") else "en"


def install_translator(locale: str | None = None) -> bool:
    """Install the compiled translation ``i18n/cpted_<locale>.qm``; False when there is none."""
    locale = (locale or user_locale())[:2]
    path = Path(__file__).parent / "i18n" / f"cpted_{locale}.qm"
    if not path.exists():
        return False
    translator = QTranslator()
    if not translator.load(str(path)):
        return False
    QCoreApplication.installTranslator(translator)
    _translators.append(translator)
    return True


def remove_translators() -> None:
    """Undo :func:`install_translator`."""
    while _translators:
        QCoreApplication.removeTranslator(_translators.pop())
