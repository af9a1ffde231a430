"""Deal automations: when a deal event happens, create or update a deal."""
