"""What Excel for Mac does when a button runs xlwings' RunPython, rebuilt from the pinned xlwings'
own files so that a test on Linux runs the very command macOS would (tests only).

- `sample_call_command`: the Python command of the VBA project's `SampleCall` (the macro every LeadQ
  button is assigned), read from the compressed module source in `xl/vbaProject.bin` (MS-OVBA §2.4.1
  decompression) and evaluated for a workbook name as its VBA does.
- `mac_shell_command`: the shell command xlwings' AppleScript (`xlwings-<version>.applescript`,
  `VbaHandler`) gives `do shell script`, from the ParameterString that `Main.bas` `ExecuteMac` builds
  (`PYTHONPATH;|interpreter|command|workbook name|Excel path|log file`) — the template's
  `set ShellCommand to …` expression is parsed and evaluated, not copied.
What is not reproduced: `ToPosixPath` (AppleScript's `POSIX path of`, identity on the POSIX paths
xlwings documents for Interpreter_Mac), `source ~/.bash_profile`, Excel's sandbox.
"""

from __future__ import annotations

import re
import struct
from importlib import resources
from pathlib import Path


def _decompress(data: bytes, start: int) -> bytes | None:
    """MS-OVBA 2.4.1: a CompressedContainer at data[start] (signature byte 0x01), or None."""
    out, pos = bytearray(), start + 1
    while pos + 2 <= len(data):
        header = struct.unpack_from("<H", data, pos)[0]
        if (header >> 12) & 7 != 0b011:
            break
        end, flagged = min(pos + (header & 0x0FFF) + 3, len(data)), header >> 15
        pos += 2
        chunk = len(out)
        if not flagged:
            out += data[pos:pos + 4096]
            pos += 4096
            continue
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not (flags >> bit) & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token = struct.unpack_from("<H", data, pos)[0]
                pos += 2
                bits = max((len(out) - chunk - 1).bit_length(), 4)
                length, offset = (token & (0xFFFF >> bits)) + 3, (token >> (16 - bits)) + 1
                if offset > len(out) - chunk:
                    return None
                for _ in range(length):
                    out.append(out[-offset])
        pos = end
    return bytes(out)


def vba_sub(vba: bytes, name: str) -> str:
    """The source of `Sub name()` in a VBA project's modules."""
    for i in range(len(vba) - 3):
        if vba[i] == 1 and (vba[i + 2] >> 4) & 7 == 0b011:
            try:
                text = _decompress(vba, i)
            except (IndexError, struct.error):
                continue
            if text and f"Sub {name}()".encode() in text:
                src = text.decode("latin-1")
                return src[src.index(f"Sub {name}()"):].split("End Sub")[0]
    raise LookupError(f"no Sub {name} in the VBA project")


def sample_call_command(vba: bytes, workbook_name: str) -> str:
    """The RunPython argument SampleCall builds, for this workbook name (its VBA: the name up to the
    last dot; `"import " & mymodule & ";" & mymodule & ".main()"`)."""
    src = vba_sub(vba, "SampleCall")
    assert 'InStrRev(ThisWorkbook.Name, ".", -1' in src, src            # mymodule: the name without extension
    expr = re.search(r"RunPython (.+)", src).group(1).strip()
    return _evaluate(expr, {"mymodule": workbook_name.rsplit(".", 1)[0]})


def _evaluate(expr: str, variables: dict[str, str]) -> str:
    """An AppleScript / VBA string concatenation: "literal" (\\" or "" inside), names, joined by &."""
    out, pos = [], 0
    token = re.compile(r'\s*(?:"((?:[^"\\]|\\.|"")*)"|([A-Za-z_]\w*)|(&))\s*')
    while pos < len(expr):
        m = token.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:]!r}")
        if m.group(1) is not None:
            out.append(re.sub(r'\\(.)', r"\1", m.group(1)).replace('""', '"'))
        elif m.group(2):
            out.append(variables[m.group(2)])
        pos = m.end()
    return "".join(out)


def mac_shell_command(conf: dict[str, str], workbook: Path, command: str, log_file: Path,
                      excel_path: str = "/Applications/Microsoft Excel.app/Contents") -> str:
    """The shell command macOS runs for RunPython(command) from `workbook`, with the xlwings.conf
    sheet's values `conf` (keys as the sheet has them)."""
    import xlwings
    upper = {k.upper(): (v or "") for k, v in conf.items()}
    interpreter = upper.get("INTERPRETER_MAC") or "python"            # Main.bas RunPython: blank -> "python"
    full = str(workbook)
    pythonpath = ";".join(["true", full, full, "", "", "", upper.get("PYTHONPATH", "")]).replace("'", "\\'")
    script = resources.files("xlwings").joinpath(f"xlwings-{xlwings.__version__}.applescript").read_text("utf-8")
    expr = re.search(r"set ShellCommand to (.+?)\n\s*try", script.replace("¬\n", ""), re.S).group(1)
    return _evaluate(expr, {"PythonInterpreter": interpreter, "PYTHONPATH": pythonpath + ";", "PythonCommand": command,
                            "WorkbookName": workbook.name, "ApplicationFullName": excel_path,
                            "LOG_FILE": str(log_file)})
