"""Files that editors and tools write beside the one being saved, never a real change.

``sed -i`` writes ``sedXXXXXX``, vim ``.name.swp`` and ``4913``, emacs
``#name#`` and ``.#name``, JetBrains ``name___jb_tmp___``, GNOME
``.goutputstream-XXXXXX``, LibreOffice ``.~lock.name#``, many tools
``name~`` or ``name.tmp``. Watch mode ignores them as triggers (a file the
spec names itself is always watched, whatever its name).
"""

from __future__ import annotations

import re

EDITOR_TEMP = re.compile(
    r"""
    ^(?:
        sed[A-Za-z0-9]{6}               # sed -i
      | 4913                            # vim's write test
      | \.?.*\.(?:swp|swo|swx|swpx)     # vim swap files
      | .*~                             # backups of many editors
      | \#.*\#                          # emacs auto-save
      | \.\#.*                          # emacs lock
      | .*___jb_(?:tmp|old|bak)___      # JetBrains safe write
      | \.goutputstream-.*              # GNOME / GIO
      | \.~lock\..*\#                   # LibreOffice
      | .*\.(?:tmp|temp|part|crdownload|kate-swp)
      | \.DS_Store
    )$
    """,
    re.VERBOSE,
)


def is_editor_temp(name: str) -> bool:
    """Whether a file name is one editors and tools write while saving."""
    return EDITOR_TEMP.match(name) is not None
