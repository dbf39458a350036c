import subprocess
import sys


def test_core_imports_no_io_or_cli_library():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('openpyxl', 'xlwings', 'click', 'xlsxwriter', 'fastexcel'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import addin, addin.core.evaluate, addin.core.rules, addin.core.scoring\n"
        "import addin.core.summary, addin.core.present, addin.core.calibrate, addin.core.calibration_view, addin.core.suggest\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
