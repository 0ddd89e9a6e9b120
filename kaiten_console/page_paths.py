"""Where the console's page scripts are: absolute paths, so the same navigation, links and
page switches work from a checkout's ``streamlit_app.py`` and from the installed package."""

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

INSTANCES = str(PAGES_DIR / "instances.py")
INSTANCE = str(PAGES_DIR / "instance.py")
FLAGS = str(PAGES_DIR / "flags.py")
REPORT_USAGE = str(PAGES_DIR / "report_usage.py")
FLEET = str(PAGES_DIR / "fleet.py")
CUSTOMERS = str(PAGES_DIR / "customers.py")
CUSTOMER = str(PAGES_DIR / "customer.py")
API_KEYS = str(PAGES_DIR / "api_keys.py")
WEBHOOKS = str(PAGES_DIR / "webhooks.py")
