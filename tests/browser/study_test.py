"""Browser test of `genforge rate`: a study page made by the binary, answered by simulated raters in headless
Chromium, summarised by the binary.

    python3 tests/browser/study_test.py GENFORGE_BINARY WORKDIR

1. Pairs: `rate make` on two text files (fluent sentences = system a, scrambled ones = system b). Rater alice prefers
   the fluent item and follows the attention checks; rater bob prefers it too but answers every attention check the
   wrong way. alice reloads the page half-way (her answers must survive in localStorage) and uses the keyboard for
   some answers. Both export; the answers come from the #export text box. `rate summarize` must flag bob, exclude him
   and find a preferred to b in every included comparison.
2. Likert 1..5: carol and dave rate fluent items high and scrambled ones low, attention checks as instructed; the
   summary must rank a above b, with nobody flagged.
No console errors anywhere; the question view's screenshot is not blank.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Browser, inked_screenshot  # noqa: E402


def run(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"genforge {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
    return result.stdout


def is_fluent(item_text):
    return item_text.strip().startswith("Fluent")


def start(browser, page, rater):
    browser.open(page)
    browser.clear("#rater")
    browser.type("#rater", rater)
    browser.click("#start")


def reload_until_answers_kept(browser, page, rater, expected, seconds=5.0):
    """Reopens the page as `rater` until it shows `expected` progress. Chromium hands a page's localStorage writes
    to its browser process asynchronously, so a reload in the same millisecond as the last answer (which no person
    manages, but a loaded CI machine running this script can) may open before they arrive; a few tries within
    `seconds` tell that race from answers really lost."""
    deadline = time.time() + seconds
    while True:
        start(browser, page, rater)
        if progress(browser) == expected or time.time() > deadline:
            break
        time.sleep(0.2)
    assert progress(browser) == expected, browser.text("#progress")


def progress(browser):
    done, total = (int(x) for x in browser.text("#progress").split("/"))
    return done, total


def answer_pair(browser, careless_attention, use_keys):
    prompt = browser.text("#prompt")
    check = re.match(r"Attention check: choose the (LEFT|RIGHT) item", prompt)
    if check:
        side = check.group(1).lower()
        if careless_attention:
            side = "right" if side == "left" else "left"
    else:
        side = "left" if is_fluent(browser.text("#left-item")) else "right"
        assert is_fluent(browser.text("#left-item")) != is_fluent(browser.text("#right-item")), "a pair of one system"
    if use_keys:
        key = "ArrowLeft" if side == "left" else "ArrowRight"
        browser.execute("document.dispatchEvent(new KeyboardEvent('keydown', {key: arguments[0], bubbles: true}))",
                        key)
    else:
        browser.click(f"#choose-{side}")


def answer_likert(browser, scale):
    prompt = browser.text("#prompt")
    check = re.match(r"Attention check: choose (\d+)", prompt)
    rating = int(check.group(1)) if check else (scale if is_fluent(browser.text("#left-item")) else 1)
    browser.click(f"#rate-{rating}")


def export(browser, study_id, rater, total):
    assert progress(browser) == (total, total), browser.text("#progress")
    assert browser.text("#done").startswith("All questions are answered")
    browser.click("#export-button")
    answers = json.loads(browser.value("#export"))
    assert answers["type"] == "genforge study answers", answers
    assert answers["study_id"] == study_id and answers["rater"] == rater, answers
    assert len(answers["answers"]) == total and len(answers["ms"]) == total, answers
    return answers


def pairs_study(binary, work, browser):
    with open(os.path.join(work, "fluent.txt"), "w") as f:
        for i in range(10):
            f.write(f"Fluent sentence number {i} reads smoothly from start to end.\n")
    with open(os.path.join(work, "scrambled.txt"), "w") as f:
        for i in range(10):
            f.write(f"end smoothly number to sentence reads {i} from start scrambled.\n")
    study = os.path.join(work, "pairs")
    run(binary, "rate", "make", "--a", os.path.join(work, "fluent.txt"), "--b", os.path.join(work, "scrambled.txt"),
        "--pairs", "12", "--attention", "3", "--seed", "7", "--out", study)
    page = os.path.join(study, "index.html")
    html = open(page, encoding="utf-8").read()
    key = json.load(open(os.path.join(study, "key.json")))
    assert "fluent.txt" not in html and "scrambled.txt" not in html, "the page names a source"
    total = len(key["questions"])
    assert total == 15

    answer_files = []
    for rater, careless in (("alice", False), ("bob", True)):
        start(browser, page, rater)
        assert progress(browser) == (0, total)
        for n in range(total):
            if rater == "alice" and n == 6:  # reload half-way: the six answers are kept
                reload_until_answers_kept(browser, page, rater, (6, total))
            if n == 2:
                _, ink = inked_screenshot(browser, os.path.join(work, f"pairs-{rater}.png"))
                assert ink > 0.002, f"the question view looks blank (ink {ink:.5f})"
            answer_pair(browser, careless, use_keys=(rater == "alice" and n % 3 == 0))
            assert progress(browser)[0] == n + 1, browser.text("#progress")
        answers = export(browser, key["study_id"], rater, total)
        path = os.path.join(work, "answers", f"{key['study_id']}-{rater}.json")
        with open(path, "w") as out:
            json.dump(answers, out)
        answer_files.append(path)
        browser.assert_no_console_errors()

    summary = json.loads(run(binary, "rate", "summarize", os.path.join(study, "key.json"), *answer_files, "--json"))
    assert summary["failed_attention"] == ["bob"], summary["failed_attention"]
    assert summary["raters_included"] == 1
    (pair,) = summary["pairs"]
    assert (pair["a"], pair["b"]) == ("a", "b")
    assert pair["a_wins"] == 12 and pair["b_wins"] == 0 and pair["ties"] == 0, pair
    assert pair["a_preferred"] == 1.0 and pair["ci_low"] > 0.7, pair
    assert summary["bradley_terry"]["ranking"][0]["system"] == "a"
    table = run(binary, "rate", "summarize", os.path.join(study, "key.json"), *answer_files)
    assert "FAILED an attention check" in table and "bob" in table, table
    # With bob included his answers count too (he preferred the fluent items as well).
    everyone = json.loads(run(binary, "rate", "summarize", os.path.join(study, "key.json"), *answer_files,
                              "--include-failed", "--json"))
    assert everyone["raters_included"] == 2 and everyone["pairs"][0]["a_wins"] == 24
    print(table)


def likert_study(binary, work, browser):
    study = os.path.join(work, "likert")
    run(binary, "rate", "make", "--a", os.path.join(work, "fluent.txt"), "--b", os.path.join(work, "scrambled.txt"),
        "--likert", "5", "--pairs", "8", "--attention", "2", "--seed", "3", "--out", study)
    page = os.path.join(study, "index.html")
    key = json.load(open(os.path.join(study, "key.json")))
    total = len(key["questions"])
    files = []
    for rater in ("carol", "dave"):
        start(browser, page, rater)
        for n in range(total):
            answer_likert(browser, 5)
        answers = export(browser, key["study_id"], rater, total)
        assert all(1 <= a["rating"] <= 5 for a in answers["answers"]), answers
        path = os.path.join(work, "answers", f"{key['study_id']}-{rater}.json")
        with open(path, "w") as out:
            json.dump(answers, out)
        files.append(path)
        browser.assert_no_console_errors()
    summary = json.loads(run(binary, "rate", "summarize", os.path.join(study, "key.json"), *files, "--json"))
    assert summary["failed_attention"] == [] and summary["raters_included"] == 2, summary
    means = {row["system"]: row["mean"] for row in summary["likert"]}
    assert means == {"a": 5.0, "b": 1.0}, means
    assert summary["agreement"]["krippendorff_alpha"] == 1.0, summary["agreement"]
    print(run(binary, "rate", "summarize", os.path.join(study, "key.json"), *files))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 study_test.py GENFORGE_BINARY WORKDIR")
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "answers"))
    with Browser() as browser:
        pairs_study(binary, work, browser)
        likert_study(binary, work, browser)
    print("browser study test: ok")


if __name__ == "__main__":
    main()
