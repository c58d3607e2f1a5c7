"""The ``monolith`` command line (click). Entry point: :func:`main.main`."""
