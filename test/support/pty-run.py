"""Runs a command on a pseudo-terminal of its own, as an operator's terminal does:
    python3 test/support/pty-run.py <command> [args...]
The command is the foreground process group of a new session whose controlling terminal is the
pty, so a Ctrl-C typed there signals the whole group (what one keypress does in a terminal).
Everything the command writes to the terminal is copied to our stdout. Each line read on our
stdin is typed at the terminal: "ctrl-c" types Ctrl-C (\\x03). Exits with the command's status
(128 + n for a signal n)."""
import os
import pty
import select
import sys

pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

stdin_open = True
while True:
    readable = [master] + ([sys.stdin.fileno()] if stdin_open else [])
    ready, _, _ = select.select(readable, [], [])
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last process has gone
            data = b""
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    if stdin_open and sys.stdin.fileno() in ready:
        line = sys.stdin.buffer.readline()
        if not line:
            stdin_open = False
        elif line.strip() == b"ctrl-c":
            os.write(master, b"\x03")

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
