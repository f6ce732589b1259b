"""Street addresses and postcodes of the locales we serve (US, UK, DE, FR, ES, IT, NL, PL, SE).

spaCy's small model tags towns, rarely streets, and never postcodes. Street patterns follow each
country's way of writing them: a house number before an English street type (USPS Publication 28
and Royal Mail street types), a compound street word before the number in German, Dutch and Swedish,
a street type word first in French, Spanish, Italian and Polish. Postcodes with a distinctive shape
(UK, NL, PL, SE, US ZIP+4) match alone; a bare five-digit code only before a capitalised town name.
"""
from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from core.rag.recognizers import register

_CAP = r"[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w'’.-]*"
_EN_TYPES = (r"street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|way|court|ct|place|pl|boulevard|blvd|close|crescent|cres|"
             r"terrace|square|sq|row|hill|park|gardens|gdns|mews|grove|parade|walk|circle|cir|highway|hwy|parkway|pkwy|"
             r"trail|trl|plaza|alley|passage|path|green|rise|view|vale|wharf|quay|bridge|causeway|common|corner|cove|"
             r"creek|crossing|estate|expressway|fields|ford|fork|fort|freeway|gate|harbor|harbour|heights|hollow|island|"
             r"junction|key|knoll|lake|landing|light|lights|lodge|loop|manor|meadow|meadows|mill|mills|mission|motorway|"
             r"mount|mountain|orchard|oval|pass|pike|pine|pines|plain|plains|point|port|prairie|ranch|ridge|river|route|"
             r"run|shore|shores|spring|springs|spur|station|stream|summit|terrace|throughway|trace|track|tunnel|turnpike|"
             r"union|valley|via|viaduct|village|ville|vista|well|wells|yard|yards|centre|center|end|side|wood|woods")
_UNIT = r"(?:,?\s*(?i:apt\.?|apartment|suite|ste\.?|unit|flat|floor|fl\.?|room|no\.?)\s*\w{1,5})?"
_EN = rf"(?:(?i:flat|apartment|studio|unit)\s+\w{{1,4}},?\s+)?\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{0,3}}(?i:{_EN_TYPES})\b\.?{_UNIT}"
_GERMANIC = (r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|pfad|steig|markt|berg|hof|"
             r"straat|laan|plein|gracht|singel|kade|dijk|pad|steeg|dreef|park|baan|weide|veld|"
             r"gatan|vägen|gata|väg|gränd|torget|torg|stigen|backen|allén|plan|leden|liden|stig")
_DE_NL_SV = rf"\b(?:{_CAP}[ -])*[\wÀ-ÿ'’-]*(?i:{_GERMANIC})\s+\d{{1,4}}\s?[a-zA-Z]?(?:\s?[-/]\s?\d{{1,4}}[a-zA-Z]?)?(?![\w])"
_ROMANCE_TYPES = (r"rue|avenue|av\.|boulevard|bd|chemin|allée|impasse|place|quai|route|cours|square|passage|voie|"
                  r"calle|c/|avenida|avda\.?|paseo|plaza|camino|ronda|carretera|glorieta|pasaje|rambla|vía|callejón|cuesta|"
                  r"travesía|urbanización|alameda|acceso|"
                  r"via|viale|piazza|piazzale|corso|largo|vicolo|strada|contrada|borgo|rotonda|stretto|canale|incrocio|"
                  r"lungomare|galleria|salita|vico|"
                  r"ul\.|ulica|al\.|aleja|pl\.|plac|os\.|osiedle|skwer|rondo")
_LINK = r"(?:de|del|de la|des|du|la|le|les|l'|d'|las|los|el|y|e|di|della|dei|delle|degli)\s+"
_ROMANCE = (rf"(?:\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+)?(?i:\b(?:{_ROMANCE_TYPES}))\s+(?:{_LINK})*{_CAP}"
            rf"(?:\s+(?:{_LINK})*{_CAP}){{0,4}}(?:,?\s*(?:\d{{1,4}}[a-zA-Z]?(?:/\d{{1,4}})?|s/n)\b)?")


class StreetAddressRecognizer(PatternRecognizer):
    PATTERNS = [Pattern("street_en", _EN, 0.6), Pattern("street_de_nl_sv", _DE_NL_SV, 0.6),
                Pattern("street_romance_pl", _ROMANCE, 0.6)]

    def __init__(self, supported_language: str = "en") -> None:
        # Case-sensitive overall: capitalisation is what tells "12 Baker Street" from "12 weeks away".
        super().__init__(supported_entity="STREET_ADDRESS", name="StreetAddressRecognizer", patterns=self.PATTERNS,
                         supported_language=supported_language, global_regex_flags=0)


_UK = (r"(?:GIR\s?0AA|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]?\s?[0-9][ABD-HJLNP-UW-Z]{2}|[A-PR-UWYZ][0-9]{2}\s?[0-9][ABD-HJLNP-UW-Z]{2}"
       r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]?\s?[0-9][ABD-HJLNP-UW-Z]{2}|[A-PR-UWYZ][A-HK-Y][0-9]{2}\s?[0-9][ABD-HJLNP-UW-Z]{2})")
_POSTCODES = [
    # Royal Mail's shape, matched case-sensitively: distinctive enough without a context word.
    Pattern("postcode_uk", rf"\b{_UK}\b", 0.5),
    Pattern("postcode_nl", r"\b[1-9]\d{3}\s?(?-i:[A-Z]{2})\b(?!\w)", 0.5),
    Pattern("postcode_pl", r"\b\d{2}-\d{3}\b", 0.5),
    Pattern("postcode_se", r"\b\d{3}\s\d{2}\b(?=\s+[A-ZÅÄÖ])", 0.5),
    Pattern("zip_plus4", r"\b\d{5}-\d{4}\b", 0.5),
    Pattern("postcode_before_town", rf"\b\d{{5}}(?=\s+{_CAP})", 0.5),
]
_POSTCODE_CONTEXT = ["postcode", "zip", "plz", "postleitzahl", "code postal", "cp", "cap", "postnummer", "kod"]

register("street_address", StreetAddressRecognizer)
register("postcode", lambda: PatternRecognizer(supported_entity="POSTCODE", name="PostcodeRecognizer",
                                               patterns=_POSTCODES, context=_POSTCODE_CONTEXT, global_regex_flags=0))
