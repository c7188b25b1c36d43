"""Code tables of the simulator: towns, streets, name parts, sectors with their qualifications, signaalteksten.

Everything the data generator draws from lives here, as plain tuples, so that the data set is a pure function of
the seed and these tables.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Town:
    name: str
    pc4_from: int  # first 4-digit postcode area of the town
    pc4_to: int  # last one, inclusive
    area_code: str  # telephone area code


TOWNS: tuple[Town, ...] = (
    Town("Amsterdam", 1011, 1109, "020"), Town("Almere", 1311, 1363, "036"), Town("Alkmaar", 1811, 1829, "072"),
    Town("Hilversum", 1211, 1223, "035"), Town("Haarlem", 2011, 2037, "023"), Town("Leiden", 2311, 2334, "071"),
    Town("Den Haag", 2491, 2599, "070"), Town("Delft", 2611, 2629, "015"), Town("Gouda", 2801, 2809, "0182"),
    Town("Rotterdam", 3011, 3089, "010"), Town("Dordrecht", 3311, 3329, "078"), Town("Utrecht", 3511, 3585, "030"),
    Town("Amersfoort", 3811, 3829, "033"), Town("Middelburg", 4331, 4339, "0118"), Town("Breda", 4811, 4839, "076"),
    Town("Tilburg", 5011, 5049, "013"), Town("'s-Hertogenbosch", 5211, 5249, "073"),
    Town("Eindhoven", 5611, 5658, "040"), Town("Helmond", 5701, 5709, "0492"), Town("Venlo", 5911, 5932, "077"),
    Town("Maastricht", 6211, 6229, "043"), Town("Nijmegen", 6511, 6546, "024"), Town("Arnhem", 6811, 6846, "026"),
    Town("Apeldoorn", 7311, 7339, "055"), Town("Deventer", 7411, 7439, "0570"), Town("Enschede", 7511, 7548, "053"),
    Town("Emmen", 7811, 7833, "0591"), Town("Zwolle", 8011, 8043, "038"), Town("Lelystad", 8211, 8245, "0320"),
    Town("Leeuwarden", 8911, 8939, "058"), Town("Assen", 9401, 9409, "0592"), Town("Groningen", 9711, 9747, "050"),
)

# Letter pairs that Dutch postcodes never use.
POSTCODE_LETTERS_UNUSED = frozenset({"SA", "SD", "SS"})

STREETS = (
    "Kerkstraat", "Dorpsstraat", "Stationsweg", "Industrieweg", "Marktplein", "Molenweg", "Havenstraat",
    "Nieuwe Gracht", "Oudegracht", "Hoofdstraat", "Schoolstraat", "Julianalaan", "Wilhelminastraat", "Beatrixlaan",
    "Parallelweg", "Ambachtsweg", "Nijverheidsweg", "Handelsweg", "Kanaalweg", "Rijksstraatweg", "Lindelaan",
    "Eikenlaan", "Beukenlaan", "Spoorstraat", "Veldweg", "Bredeweg", "Prinses Irenestraat", "Zuiderhavenweg",
    "Energieweg", "Dr. Lelylaan", "Van Goghstraat", "Rembrandtplein", "Steenweg", "Achterom", "Burgwal",
)

HOUSE_NUMBER_SUFFIXES = ("a", "b", "c", "2", "3", "bis", "A")

FIRST_NAMES = (
    "Jan", "Pieter", "Kees", "Anne", "Sanne", "Fatima", "Mohamed", "Lotte", "Daan", "Emma", "Sem", "Julia", "Noah",
    "Tess", "Lucas", "Sophie", "Bram", "Fleur", "Thijs", "Ilse", "Mehmet", "Ayse", "Wouter", "Marieke", "Ruben",
    "Esther", "Joost", "Linda", "Kevin", "Naima",
)

SURNAMES = (
    "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
    "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
    "de Graaf", "van der Meer", "Kok", "Jacobs", "Vermeulen", "Yilmaz", "El Amrani", "van Dijk", "Willems", "Hoekstra",
)

FANCY_NAMES = (
    "De Korenbloem", "Het Anker", "De Zonnebloem", "De Eendracht", "Het Baken", "De Molen", "De Linde",
    "Het Gouden Aar", "De Vlijt", "De Hoop", "De Eik", "Het Wapen", "De Kroon", "De Morgenster", "De Klaproos",
    "Het Hoekje", "De Toekomst", "Het Kompas", "De Regenboog", "Het Palet", "De Vuurtoren", "De Meander",
)

LEGAL_FORMS = ("B.V.", "B.V.", "B.V.", "V.O.F.", "& Zn.", "C.V.", "", "")


@dataclass(frozen=True)
class Qualification:
    crebo: str
    name: str


@dataclass(frozen=True)
class Sector:
    branche: str  # the company's Branche
    prefixes: tuple[str, ...]  # first word(s) of a company name
    kenniscentrum_brin: str  # BRIN of the former kenniscentrum, first part of old-style codes
    qualifications: tuple[Qualification, ...]


def _q(*pairs: tuple[str, str]) -> tuple[Qualification, ...]:
    return tuple(Qualification(c, n) for c, n in pairs)


SECTORS: tuple[Sector, ...] = (
    Sector("Bakkerij", ("Bakkerij", "Warme Bakker", "Banketbakkerij"), "25BE", _q(
        ("25180", "Bakker"), ("25181", "Zelfstandig werkend bakker"), ("25182", "Allround banketbakker"),
        ("25183", "Ondernemer bakkerij"))),
    Sector("Horeca", ("Restaurant", "Hotel", "Eetcafé", "Brasserie"), "31HO", _q(
        ("25168", "Kok"), ("25169", "Zelfstandig werkend kok"), ("25170", "Gespecialiseerd kok"),
        ("25171", "Gastheer/gastvrouw"), ("25172", "Zelfstandig werkend gastheer/gastvrouw"))),
    Sector("Installatietechniek", ("Installatiebedrijf", "Installatietechniek", "Elektrotechniek"), "27IT", _q(
        ("25412", "Eerste monteur elektrotechnische installaties"),
        ("25413", "Monteur elektrotechnische installaties"),
        ("25414", "Monteur werktuigkundige installaties"),
        ("25415", "Eerste monteur werktuigkundige installaties"))),
    Sector("Mobiliteit", ("Autobedrijf", "Garage", "Autoschade"), "29MO", _q(
        ("25194", "Autotechnicus"), ("25195", "Eerste autotechnicus"),
        ("25196", "Technisch specialist personenauto's"), ("25197", "Autoschadehersteller"))),
    Sector("Zorg", ("Zorggroep", "Thuiszorg", "Zorgcentrum"), "30ZW", _q(
        ("25480", "Verzorgende-IG"), ("25655", "Mbo-verpleegkundige"), ("25483", "Helpende zorg en welzijn"),
        ("25484", "Maatschappelijk zorg"))),
    Sector("Kinderopvang", ("Kinderopvang", "Kinderdagverblijf"), "30ZW", _q(
        ("25486", "Pedagogisch medewerker kinderopvang"),
        ("25487", "Gespecialiseerd pedagogisch medewerker kindcentra"))),
    Sector("Detailhandel", ("Supermarkt", "Modehuis", "Bouwmarkt", "Drogisterij"), "28DH", _q(
        ("25250", "Verkoopmedewerker"), ("25251", "Eerste verkoper"), ("25252", "Manager retail"),
        ("25253", "Ondernemer retail"))),
    Sector("Bouw", ("Bouwbedrijf", "Aannemersbedrijf", "Timmerbedrijf"), "26BO", _q(
        ("25140", "Timmerman"), ("25141", "Allround timmerman"), ("25142", "Metselaar"),
        ("25143", "Allround metselaar"), ("25144", "Uitvoerder bouw"))),
    Sector("ICT", ("ICT-bedrijf", "Softwarehuis", "Webbureau"), "32IC", _q(
        ("25604", "Software developer"), ("25605", "Medewerker ICT support"),
        ("25606", "Expert IT systems and devices"), ("25607", "Allround medewerker IT systems and devices"))),
    Sector("Uiterlijke verzorging", ("Kapsalon", "Haarstudio", "Schoonheidssalon"), "33UV", _q(
        ("25390", "Kapper"), ("25391", "Allround kapper"), ("25392", "Salonmanager"))),
    Sector("Logistiek", ("Transportbedrijf", "Logistiek Centrum", "Expeditiebedrijf"), "34LT", _q(
        ("25340", "Logistiek medewerker"), ("25341", "Logistiek teamleider"),
        ("25342", "Chauffeur goederenvervoer"))),
    Sector("Zakelijke dienstverlening", ("Administratiekantoor", "Accountantskantoor"), "35ZD", _q(
        ("25138", "Financieel administratief medewerker"), ("25139", "Bedrijfsadministrateur"))),
)

QUALIFICATIONS: dict[str, str] = {q.crebo: q.name for s in SECTORS for q in s.qualifications}
assert len(QUALIFICATIONS) == sum(len(s.qualifications) for s in SECTORS), "crebos must be unique"

WITHDRAWAL_REASONS = (
    "Geen praktijkopleider meer beschikbaar", "Bedrijf beëindigd", "Op verzoek van het leerbedrijf",
    "Niet voldaan aan de erkenningsvoorwaarden",
)
WITHDRAWAL_REASON_DEFAULT = "Ingetrokken door SBB"

KEUZEDELEN = (
    "Ondernemend gedrag", "Digitale vaardigheden", "Duurzaamheid in het beroep", "Engels B1",
    "Klantcontact", "Werken in een team", "Veiligheid en VCA",
)

# WL 2.0 signaalcodes and their Dutch text (CONTRACTS.md).
SIGNAALTEKSTEN: dict[int, str] = {
    0: "Verwerkt",
    1: "Niets gevonden",
    10: "LeerbedrijfId onbekend",
    11: "Crebonummer onbekend",
    12: "LeerplaatsId onbekend",
    20: "Ongeldige invoer",
    30: "Abonnement bestaat al",
    31: "Abonnement onbekend",
    90: "Niet geautoriseerd",
    99: "Technische fout",
}


def signaaltekst(code: int) -> str:
    return SIGNAALTEKSTEN.get(code, f"Signaalcode {code}")
