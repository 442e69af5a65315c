"""One blueprint per role. Each declares who may open it (kiosk.access)."""
from kiosk.views.admin import bp as admin_bp
from kiosk.views.device_api import bp as device_api_bp
from kiosk.views.sign_in import bp as auth_bp
from kiosk.views.display import bp as display_bp
from kiosk.views.donor_kiosk import bp as kiosk_bp
from kiosk.views.main import bp as main_bp
from kiosk.views.nurse import bp as nurse_bp
from kiosk.views.pairing import bp as pairing_bp
from kiosk.views.passes import bp as passes_bp

BLUEPRINTS = (main_bp, auth_bp, kiosk_bp, nurse_bp, display_bp, admin_bp, passes_bp, pairing_bp, device_api_bp)
