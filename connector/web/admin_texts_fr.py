"""French texts of the admin, keyed by their English (see admin_i18n)."""

from __future__ import annotations

FR: dict[str, str] = {
}
