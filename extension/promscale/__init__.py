"""PL/Python modules of the promscale PostgreSQL extension.

Every module takes ``plpy`` as an argument instead of importing it, so each can
be imported and unit-tested outside the database (see tests/plpy_stub.py).
The install script stamps the version below; in the source tree it is a placeholder.
"""

__version__ = "0+source"
