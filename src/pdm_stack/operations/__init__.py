"""What a front end does between opening a stack and the core stages (lock, build, publish).

``pdm stack`` and the Hatch builder both call these functions, so the two cannot drift apart on
which indexes a lock depends on, which locks a build accepts or which layers a publish ships.
Front ends only add what is theirs: where settings come from and how output and errors look.
"""
