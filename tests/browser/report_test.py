"""Browser test of `genforge report`: pages for a table model (with a planted copy of a training row among the
samples) and for a language model, rendered in headless Chromium: the screenshot is not blank, the console shows no
errors, and the page's sections are there.

    python3 tests/browser/report_test.py GENFORGE_BINARY SOURCE_DIR WORKDIR [--docs-screenshot PATH]

--docs-screenshot also saves the table report's screenshot at PATH (docs/images/report.png is made this way).
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Browser, check_page  # noqa: E402


def run(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"genforge {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
    return result.stdout


def main():
    binary, source, work = sys.argv[1:4]
    docs_shot = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--docs-screenshot" else None
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    penguins = os.path.join(source, "data/vega-datasets/data/penguins.json")
    model = os.path.join(work, "penguins.gf")
    run(binary, "train", "gmm", "--data", penguins, "--out", model, "--n_components", "3", "--categorical",
        "onehot", "-q")
    # Samples with a planted copy: the model's rows, then the first training row written back verbatim.
    samples = os.path.join(work, "samples.csv")
    run(binary, "sample", model, "-n", "200", "--seed", "3", "--out", samples, "--no-provenance")
    with open(penguins) as f:
        first = json.load(f)[0]
    with open(samples) as f:
        header = f.readline().rstrip("\n").split(",")
    cells = ["" if first.get(h) is None else str(first[h]) for h in header]
    with open(samples, "a") as f:
        f.write(",".join(cells) + "\n")
    page = os.path.join(work, "table.html")
    run(binary, "report", model, "--data", penguins, "--samples", samples, "--out", page)
    figures = json.load(open(os.path.join(work, "table.json")))
    assert 200 in figures["memorisation"]["flagged_samples"], figures["memorisation"]
    html = open(page).read()
    for section in ("id='card'", "id='training'", "id='samples'", "id='metrics'", "id='memorisation'",
                    "id='coverage'", "<b>flagged</b>"):
        assert section in html, f"{page} lacks {section}"
    with Browser() as browser:
        shot = os.path.join(work, "table.png")
        result = check_page(page, shot, browser=browser)
        if docs_shot:  # the whole page, for docs/applications/report.md
            browser.set_window(1200, 4200)
            check_page(page, docs_shot, browser=browser)
            browser.set_window(1200, 800)
        print(f"table report: ink {result['ink']:.3f}, no console errors")
        # A language model: generated text, word coverage, bits per character.
        text = os.path.join(work, "lines.txt")
        with open(text, "w") as f:
            for i in range(80):
                f.write("the cat sat on the mat number %d today .\nthe dog ran to the log again and again .\n" % i)
        lm = os.path.join(work, "lm.gf")
        run(binary, "train", "gpt", "--data", text, "--out", lm, "--n_layer", "1", "--n_head", "2", "--n_embd",
            "16", "--block_size", "32", "--max_steps", "300", "-q")
        page = os.path.join(work, "text.html")
        run(binary, "report", lm, "--data", text, "-n", "4", "--out", page)
        html = open(page).read()
        for section in ("id='memorisation'", "id='coverage'", "pre class='text'"):
            assert section in html, f"{page} lacks {section}"
        result = check_page(page, os.path.join(work, "text.png"), browser=browser)
        print(f"text report: ink {result['ink']:.3f}, no console errors")
    print("ok")


if __name__ == "__main__":
    main()
