"""Route modules; each adds its endpoints to the shared :data:`api` table."""

from web.api import Api

api = Api()
