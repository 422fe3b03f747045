"""Deterministic GDELT-shaped event rows for the scale benchmark (``benchmarks/scale.py``).

Rows are GDELT 2.0 event exports (61 tab-separated columns, no header, the format
:mod:`vigil.sources.gdelt` reads), with the statistics of the real samples in
``shared/data/gdelt_raw_samples`` (two 15-minute exports, 4,525 rows): CAMEO event codes
and their Goldstein scale, ActionGeo country, geo precision (ActionGeo_Type) given the
country, actor countries (same as the place, another country or none, jointly for the two
actors), the gap between DATEADDED and SQLDATE, NumMentions, NumSources, AvgTone,
IsRootEvent and the length of SOURCEURL. The tables below were fitted from the samples
(``fit_shares`` measures them; ``docs/BENCHMARKS.md`` "Scale" compares real and generated).

Places: country centroids (ActionGeo_Type 1) as GDELT gives them; points (types 3/4)
cluster around real cities: in the theatre (Minsk, Brest, Gomel, Kyiv, Chernihiv,
Białystok, Vilnius, Daugavpils, Moscow, Smolensk…) with their real coordinates, so the
near-border rules of the Belarus indicators see events at realistic distances, and around
synthetic cities near the centroid elsewhere. Each city has 40 nearby points (its own
coordinates half the time), each with its own FeatureID.

Time: ``n`` rows spread evenly over ``[start, end)`` in 15-minute batches (DATEADDED),
GLOBALEVENTID increasing with time. Two known departures from the samples: every
15-minute batch holds the same number of rows (no daily or weekly cycle), and Latvia (no
row in the samples) gets a small floor share.

Determinism: row ``i`` is drawn from a NumPy ``Generator`` seeded with ``(seed, i //
CHUNK)`` and formatted by DuckDB in row order, so the same arguments give byte-identical
files whatever the thread count or the way the rows are split into files.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np

CHUNK = 1 << 18
FIRST_ID = 1_000_000_000
BATCH_S = 900
START = dt.datetime(2021, 1, 1)
END = dt.datetime(2024, 1, 1)

# ActionGeo country (FIPS), rows in the samples, centroid (the samples' type-1 point),
# name, ISO3/CAMEO code. Countries with fewer than 4 rows (69 rows) are left out and the
# rest renormalised; LG (Latvia: no row) gets a floor of 2.
COUNTRIES = [
    ("US", 1502, 39.83, -98.58, "United States", "USA"),
    ("UK", 261, 54.00, -4.00, "United Kingdom", "GBR"),
    ("IS", 243, 31.50, 34.75, "Israel", "ISR"),
    ("NI", 215, 10.00, 8.00, "Nigeria", "NGA"),
    ("AS", 127, -25.00, 135.00, "Australia", "AUS"),
    ("IR", 123, 32.00, 53.00, "Iran", "IRN"),
    ("RS", 115, 60.00, 100.00, "Russia", "RUS"),
    ("SY", 105, 35.00, 38.00, "Syria", "SYR"),
    ("IN", 104, 20.00, 77.00, "India", "IND"),
    ("CA", 94, 60.00, -96.00, "Canada", "CAN"),
    ("BE", 93, 50.83, 4.00, "Belgium", "BEL"),
    ("CH", 90, 35.00, 105.00, "China", "CHN"),
    ("RP", 75, 13.00, 122.00, "Philippines", "PHL"),
    ("JA", 60, 36.00, 138.00, "Japan", "JPN"),
    ("TU", 59, 39.06, 34.91, "Turkey", "TUR"),
    ("SF", 58, -30.00, 26.00, "South Africa", "ZAF"),
    ("GM", 52, 51.50, 10.50, "Germany", "DEU"),
    ("KN", 46, 40.00, 127.00, "North Korea", "PRK"),
    ("IT", 44, 42.83, 12.83, "Italy", "ITA"),
    ("EI", 40, 53.00, -8.00, "Ireland", "IRL"),
    ("FR", 35, 46.00, 2.00, "France", "FRA"),
    ("AE", 35, 25.07, 55.07, "United Arab Emirates", "ARE"),
    ("LE", 34, 33.83, 35.83, "Lebanon", "LBN"),
    ("SA", 29, 25.00, 45.00, "Saudi Arabia", "SAU"),
    ("CE", 28, 7.00, 81.00, "Sri Lanka", "LKA"),
    ("KS", 27, 37.00, 127.50, "South Korea", "KOR"),
    ("WE", 27, 31.67, 35.25, "West Bank", "PSE"),
    ("MX", 26, 23.00, -102.00, "Mexico", "MEX"),
    ("SP", 26, 40.00, -4.00, "Spain", "ESP"),
    ("NO", 26, 62.00, 10.00, "Norway", "NOR"),
    ("EG", 25, 27.00, 30.00, "Egypt", "EGY"),
    ("CG", 23, -4.60, 16.55, "Democratic Republic Of The Congo", "COD"),
    ("SN", 22, 1.37, 103.80, "Singapore", "SGP"),
    ("GR", 20, 38.94, 23.28, "Greece", "GRC"),
    ("UP", 19, 49.00, 32.00, "Ukraine", "UKR"),
    ("GH", 19, 8.00, -2.00, "Ghana", "GHA"),
    ("ID", 19, -5.00, 120.00, "Indonesia", "IDN"),
    ("MY", 18, 3.72, 102.10, "Malaysia", "MYS"),
    ("DA", 18, 56.00, 10.00, "Denmark", "DNK"),
    ("BR", 17, -10.00, -55.00, "Brazil", "BRA"),
    ("NZ", 16, -42.00, 174.00, "New Zealand", "NZL"),
    ("AF", 16, 33.00, 66.00, "Afghanistan", "AFG"),
    ("PK", 15, 30.00, 70.00, "Pakistan", "PAK"),
    ("HK", 15, 22.25, 114.17, "Hong Kong", "HKG"),
    ("KE", 14, -1.01, 37.02, "Kenya", "KEN"),
    ("TH", 13, 15.00, 100.00, "Thailand", "THA"),
    ("SO", 12, 4.03, 46.68, "Somalia", "SOM"),
    ("AJ", 12, 40.39, 49.74, "Azerbaijan", "AZE"),
    ("IZ", 12, 33.00, 44.00, "Iraq", "IRQ"),
    ("BC", 11, -22.00, 24.00, "Botswana", "BWA"),
    ("CF", 11, -1.00, 15.00, "Congo", "COG"),
    ("BO", 10, 53.00, 28.00, "Belarus", "BLR"),
    ("PL", 10, 52.00, 20.00, "Poland", "POL"),
    ("BY", 10, -3.53, 29.47, "Burundi", "BDI"),
    ("CS", 10, 10.00, -84.00, "Costa Rica", "CRI"),
    ("ZI", 9, -18.60, 31.86, "Zimbabwe", "ZWE"),
    ("UG", 9, 2.00, 33.00, "Uganda", "UGA"),
    ("TW", 9, 24.00, 121.00, "Taiwan", "TWN"),
    ("BM", 8, 22.00, 98.00, "Myanmar", "MMR"),
    ("RO", 8, 46.00, 25.00, "Romania", "ROU"),
    ("SZ", 8, 47.00, 8.00, "Switzerland", "CHE"),
    ("AM", 8, 40.12, 44.66, "Armenia", "ARM"),
    ("MZ", 8, -21.06, 33.09, "Mozambique", "MOZ"),
    ("GT", 7, 15.50, -90.25, "Guatemala", "GTM"),
    ("NL", 6, 52.50, 5.75, "Netherlands", "NLD"),
    ("CO", 6, 5.20, -74.93, "Colombia", "COL"),
    ("ET", 5, 8.00, 38.00, "Ethiopia", "ETH"),
    ("LH", 5, 56.00, 24.00, "Lithuania", "LTU"),
    ("TX", 5, 40.00, 60.00, "Turkmenistan", "TKM"),
    ("BU", 5, 43.00, 25.00, "Bulgaria", "BGR"),
    ("AG", 5, 28.00, 3.00, "Algeria", "DZA"),
    ("CI", 5, -30.00, -71.00, "Chile", "CHL"),
    ("HU", 4, 47.50, 19.08, "Hungary", "HUN"),
    ("AR", 4, -34.00, -64.00, "Argentina", "ARG"),
    ("LG", 2, 57.00, 25.00, "Latvia", "LVA"),
]
NO_GEO = 94  # rows without an ActionGeo in the samples (type 0, every geo field empty)

# Real cities (name, ADM1 code, lat, lon, weight): the theatre's, so that border distances
# are real ones, and a few of the US (types 2 and 3 are US-only in GDELT).
CITIES = {
    "BO": [("Minsk, Horad Minsk, Belarus", "BO04", 53.9, 27.5667, 40),
           ("Brest, Brestskaya Voblasts', Belarus", "BO01", 52.0976, 23.7341, 8),
           ("Gomel, Homyel'skaya Voblasts', Belarus", "BO02", 52.4345, 30.9754, 8),
           ("Grodno, Hrodzyenskaya Voblasts', Belarus", "BO03", 53.6884, 23.8258, 6),
           ("Vitebsk, Vitsyebskaya Voblasts', Belarus", "BO07", 55.1904, 30.2049, 4),
           ("Mogilev, Mahilyowskaya Voblasts', Belarus", "BO06", 53.9168, 30.3449, 4),
           ("Mozyr, Homyel'skaya Voblasts', Belarus", "BO02", 52.0495, 29.2456, 3),
           ("Pinsk, Brestskaya Voblasts', Belarus", "BO01", 52.1229, 26.0951, 3),
           ("Baranovichi, Brestskaya Voblasts', Belarus", "BO01", 53.1327, 26.0139, 2),
           ("Lida, Hrodzyenskaya Voblasts', Belarus", "BO03", 53.8885, 25.2846, 2)],
    "UP": [("Kyiv, Kyyiv, Misto, Ukraine", "UP12", 50.4333, 30.5167, 40),
           ("Kharkiv, Kharkivs'ka Oblast', Ukraine", "UP07", 49.9808, 36.2527, 10),
           ("Odesa, Odes'ka Oblast', Ukraine", "UP17", 46.4775, 30.7326, 6),
           ("Lviv, L'vivs'ka Oblast', Ukraine", "UP15", 49.8383, 24.0232, 6),
           ("Chernihiv, Chernihivs'ka Oblast', Ukraine", "UP02", 51.5055, 31.2849, 5),
           ("Zhytomyr, Zhytomyrs'ka Oblast', Ukraine", "UP27", 50.2547, 28.6587, 3),
           ("Rivne, Rivnens'ka Oblast', Ukraine", "UP19", 50.6199, 26.2516, 3),
           ("Lutsk, Volyns'ka Oblast', Ukraine", "UP24", 50.7593, 25.3424, 3),
           ("Mariupol, Donets'ka Oblast', Ukraine", "UP05", 47.0971, 37.5434, 5),
           ("Donetsk, Donets'ka Oblast', Ukraine", "UP05", 48.0159, 37.8028, 5),
           ("Kherson, Khersons'ka Oblast', Ukraine", "UP08", 46.6354, 32.6169, 4),
           ("Sumy, Sums'ka Oblast', Ukraine", "UP21", 50.9077, 34.7981, 3)],
    "PL": [("Warsaw, Mazowieckie, Poland", "PL78", 52.25, 21.0, 40),
           ("Bialystok, Podlaskie, Poland", "PL81", 53.1325, 23.1688, 6),
           ("Lublin, Lubelskie, Poland", "PL75", 51.2465, 22.5684, 5),
           ("Krakow, Malopolskie, Poland", "PL77", 50.0614, 19.9366, 8),
           ("Gdansk, Pomorskie, Poland", "PL82", 54.352, 18.6466, 6),
           ("Terespol, Lubelskie, Poland", "PL75", 52.075, 23.616, 2),
           ("Hajnowka, Podlaskie, Poland", "PL81", 52.74, 23.58, 1)],
    "LH": [("Vilnius, Vilniaus Apskritis, Lithuania", "LH65", 54.6833, 25.3167, 40),
           ("Kaunas, Kauno Apskritis, Lithuania", "LH57", 54.8985, 23.9036, 10),
           ("Klaipeda, Klaipedos Apskritis, Lithuania", "LH58", 55.7033, 21.1443, 6),
           ("Druskininkai, Alytaus Apskritis, Lithuania", "LH56", 54.0155, 23.9838, 2)],
    "LG": [("Riga, Riga, Latvia", "LG25", 56.9496, 24.1052, 40),
           ("Daugavpils, Daugavpils, Latvia", "LG06", 55.8747, 26.5362, 8),
           ("Rezekne, Rezekne, Latvia", "LG28", 56.5099, 27.3331, 3),
           ("Kraslava, Kraslavas, Latvia", "LG47", 55.8951, 27.1679, 1)],
    "RS": [("Moscow, Moskva, Russia", "RS48", 55.7522, 37.6156, 40),
           ("Saint Petersburg, Sankt-Peterburg, Russia", "RS66", 59.9386, 30.3141, 8),
           ("Sochi, Krasnodarskiy Kray, Russia", "RS38", 43.6028, 39.7342, 6),
           ("Smolensk, Smolenskaya Oblast', Russia", "RS69", 54.7818, 32.0401, 3),
           ("Bryansk, Bryanskaya Oblast', Russia", "RS10", 53.2521, 34.3717, 3),
           ("Belgorod, Belgorodskaya Oblast', Russia", "RS09", 50.5997, 36.5983, 4),
           ("Kursk, Kurskaya Oblast', Russia", "RS41", 51.7373, 36.1874, 3),
           ("Pskov, Pskovskaya Oblast', Russia", "RS60", 57.8194, 28.3318, 3),
           ("Kaliningrad, Kaliningradskaya Oblast', Russia", "RS23", 54.7104, 20.4522, 3),
           ("Rostov-on-Don, Rostovskaya Oblast', Russia", "RS61", 47.2357, 39.7015, 3),
           ("Novosibirsk, Novosibirskaya Oblast', Russia", "RS53", 55.0084, 82.9357, 2),
           ("Vladivostok, Primorskiy Kray, Russia", "RS59", 43.1155, 131.8855, 2)],
    "US": [("Washington, District of Columbia, United States", "USDC", 38.8951, -77.0364, 20),
           ("New York, New York, United States", "USNY", 40.7143, -74.006, 15),
           ("Los Angeles, California, United States", "USCA", 34.0522, -118.244, 10),
           ("Chicago, Illinois, United States", "USIL", 41.85, -87.65, 8),
           ("Houston, Texas, United States", "USTX", 29.7633, -95.3633, 6),
           ("Miami, Florida, United States", "USFL", 25.7743, -80.1937, 5),
           ("Atlanta, Georgia, United States", "USGA", 33.749, -84.388, 4),
           ("Seattle, Washington, United States", "USWA", 47.6062, -122.332, 4),
           ("Denver, Colorado, United States", "USCO", 39.7392, -104.985, 3),
           ("Phoenix, Arizona, United States", "USAZ", 33.4484, -112.074, 3)],
}  # fmt: skip
SYNTHETIC_CITIES = 12  # elsewhere: cities scattered around the centroid, Zipf weights

# ActionGeo_Type given the country (samples: US 91/542/869 of types 1/2/3; elsewhere
# 1095/1725/108 of types 1/4/5).
GEO_TYPES_US = [(1, 91), (2, 542), (3, 869)]
GEO_TYPES = [(1, 1095), (4, 1725), (5, 108)]
# (actor 1, actor 2) country: 0 the place's country, 1 another, 2 none (samples' shares).
ACTORS = [((1, 1), 338), ((1, 0), 282), ((1, 2), 319), ((0, 1), 280), ((0, 0), 218),
          ((0, 2), 1128), ((2, 1), 215), ((2, 0), 680), ((2, 2), 1065)]  # fmt: skip
ACTOR_TYPES = ["GOV", "MIL", "COP", "BUS", "MED", "JUD", "OPP", "CVL", "REB", "LEG"]
# DATEADDED − SQLDATE in days, rows in the samples.
LAGS = [(0, 4442), (1, 24), (7, 9), (30, 26), (365, 24)]
# EventCode, rows in the samples, mean GoldsteinScale. SMOOTHING of the rows spreads over
# every CAMEO code Vigil maps (so rare categories, LEGAL 1724 or MOBILIZE 15x, occur).
CODES = [
    ("010", 347, 0.0), ("011", 6, -0.1), ("012", 84, -0.4), ("013", 98, 0.4), ("014", 37, 0.0),
    ("015", 20, 0.0), ("016", 14, -2.0), ("017", 30, 0.0), ("018", 20, 3.4), ("020", 231, 3.0),
    ("021", 4, 3.4), ("0214", 3, 3.4), ("022", 3, 3.2), ("023", 5, 3.4), ("0231", 5, 3.4),
    ("024", 1, -0.3), ("0241", 3, -0.3), ("025", 3, -0.3), ("0253", 2, -0.3),
    ("0256", 2, -0.3), ("026", 20, 4.0), ("027", 6, 4.0), ("030", 41, 4.0), ("031", 9, 5.2),
    ("0311", 9, 5.2), ("032", 1, 4.5), ("033", 5, 5.2), ("035", 4, 7.0), ("0353", 4, 7.0),
    ("0356", 2, 7.0), ("036", 149, 4.0), ("039", 6, 5.0), ("040", 215, 1.0), ("042", 406, 1.9),
    ("043", 370, 2.8), ("044", 10, 2.5), ("045", 23, 5.0), ("046", 93, 7.0), ("050", 27, 3.5),
    ("051", 239, 3.4), ("052", 2, 3.5), ("056", 4, 7.0), ("057", 60, 8.0), ("060", 50, 6.0),
    ("061", 25, 6.4), ("062", 10, 7.4), ("064", 2, 7.0), ("070", 55, 7.0), ("071", 45, 7.4),
    ("072", 20, 8.3), ("073", 26, 7.4), ("075", 6, 7.0), ("080", 61, 5.0), ("081", 21, 5.0),
    ("0831", 10, 5.0), ("0833", 2, 5.0), ("084", 41, 7.0), ("0841", 13, 7.0),
    ("0842", 1, 7.0), ("086", 8, 9.0), ("087", 2, 9.0), ("0871", 3, 9.0), ("0874", 32, 10.0),
    ("090", 102, -2.0), ("100", 35, -5.0), ("1014", 2, -5.0), ("1041", 2, -5.0),
    ("1043", 1, -5.0), ("1044", 1, -5.0), ("1053", 3, -5.0), ("110", 75, -2.0),
    ("111", 80, -2.0), ("112", 89, -2.0), ("1122", 3, -2.0), ("1123", 3, -2.0),
    ("113", 3, -2.0), ("114", 15, -2.0), ("115", 6, -2.0), ("120", 75, -4.0), ("122", 2, -4.0),
    ("1243", 5, -4.0), ("125", 1, -5.0), ("127", 1, -5.0), ("128", 3, -5.0), ("129", 8, -5.0),
    ("130", 39, -4.4), ("131", 4, -5.8), ("1312", 4, -5.8), ("138", 14, -7.0),
    ("1384", 1, -7.0), ("139", 3, -7.0), ("140", 7, -6.5), ("141", 55, -6.5), ("144", 2, -7.5),
    ("145", 10, -7.5), ("152", 1, -7.2), ("154", 1, -7.2), ("160", 28, -4.0), ("163", 10, -8.0),
    ("170", 1, -7.0), ("171", 1, -9.2), ("1711", 8, -9.2), ("1712", 5, -9.2), ("172", 40, -5.0),
    ("1721", 5, -5.0), ("1723", 1, -5.0), ("1724", 1, -5.0), ("173", 146, -5.0),
    ("174", 2, -5.0), ("175", 1, -9.0), ("180", 42, -9.0), ("181", 13, -9.0),
    ("182", 32, -9.5), ("1821", 5, -9.0), ("1823", 2, -10.0), ("183", 1, -10.0),
    ("186", 5, -10.0), ("190", 245, -10.0), ("191", 6, -9.5), ("192", 17, -9.5),
    ("193", 191, -10.0), ("194", 3, -10.0), ("195", 2, -10.0),
]  # fmt: skip
SMOOTHING = 0.03
ROOT_GOLDSTEIN = {"01": 0.1, "02": 3.0, "03": 4.3, "04": 2.5, "05": 4.3, "06": 6.3, "07": 7.4,
                  "08": 6.7, "09": -2.0, "10": -5.0, "11": -2.0, "12": -4.1, "13": -5.3,
                  "14": -6.7, "15": -7.2, "16": -5.1, "17": -5.3, "18": -9.2, "19": -10.0,
                  "20": -10.0}  # fmt: skip
# NumMentions: the samples' counts of 1…10 (GDELT's are lumpy: 2, 4, 6, 8, 10 dominate),
# above 10 exp(N(ln 20, 0.6)) (samples: median 20, p90 40); NumSources 1 in 92 %; AvgTone
# N(−2.46, 3.78) (the samples' mean and sd); IsRootEvent 58 %.
MENTION_COUNTS = [605, 1181, 298, 595, 235, 425, 60, 240, 12, 573, 301]  # 1…10, then > 10
MENTIONS_TAIL = (np.log(20.0), 0.6)
TONE = (-2.46, 3.78)
ROOT_SHARE = 0.58
ONE_SOURCE = 0.92
WORDS = (  # noqa: SIM905
    "russia ukraine belarus minsk border troops talks police protest election court "
         "president minister army drills summit sanctions energy gas oil deal trade migrants "
         "attack strike missile drone visit report world news local crime economy market "
         "health school storm city council party leader vote media rights").split()  # fmt: skip
SECTIONS = ["news", "world", "europe", "politics", "local", "national", "business", "opinion"]


def _codes() -> list[tuple[str, float, float]]:
    """(code, probability, goldstein): the samples' codes, smoothed over every mapped code."""
    from vigil.reference import taxonomy

    con = duckdb.connect()
    taxonomy.register_reference_tables(con)
    mapped = [r[0] for r in con.execute(
        "SELECT DISTINCT code FROM ref_category_map WHERE scheme = 'cameo' AND length(code) >= 3 "
        "ORDER BY code").fetchall()]  # fmt: skip
    con.close()
    total = sum(n for _, n, _ in CODES)
    probs = {c: (1 - SMOOTHING) * n / total for c, n, _ in CODES}
    gold = {c: g for c, _, g in CODES}
    for c in mapped:
        probs[c] = probs.get(c, 0.0) + SMOOTHING / len(mapped)
        gold.setdefault(c, ROOT_GOLDSTEIN[c[:2]])
    return [(c, probs[c], gold[c]) for c in sorted(probs)]


def _places() -> list[tuple]:
    """Every country's cities: (country index, name, adm1, lat, lon, weight), in order."""
    out = []
    for ci, (fips, _, lat, lon, name, _) in enumerate(COUNTRIES):
        if fips in CITIES:
            out += [(ci, *city) for city in CITIES[fips]]
            continue
        rng = np.random.default_rng(zlib.crc32(fips.encode()))
        for k in range(SYNTHETIC_CITIES):
            dlat, dlon = rng.normal(0, 2.0, 2)
            out.append((ci, f"City {k + 1}, {name}", f"{fips}{k + 1:02d}",
                        round(float(np.clip(lat + dlat, -89, 89)), 4),
                        round(float((lon + dlon + 180) % 360 - 180), 4),
                        1.0 / (k + 1)))  # fmt: skip
    return out


class Profile:
    """The fitted tables as arrays for sampling, and as DuckDB tables for formatting."""

    def __init__(self) -> None:
        self.codes = _codes()
        self.code_cum = np.cumsum([p for _, p, _ in self.codes])
        counts = np.array([n for _, n, *_ in COUNTRIES] + [NO_GEO], dtype=float)
        self.country_cum = np.cumsum(counts / counts.sum())
        self.no_geo = len(COUNTRIES)
        self.us = next(i for i, c in enumerate(COUNTRIES) if c[0] == "US")
        self.places = _places()
        # per country, cumulative weights of its cities offset by the country's index, so one
        # searchsorted over (country + u) picks a city of each row's own country
        cum = []
        self.first_place = np.zeros(len(COUNTRIES) + 1, dtype=np.int64)
        for ci in range(len(COUNTRIES)):
            ws = np.array([p[5] for p in self.places if p[0] == ci], dtype=float)
            self.first_place[ci] = len(cum)
            cum += list(ci + np.cumsum(ws / ws.sum()))
        self.first_place[-1] = len(cum)
        self.place_cum = np.array(cum)
        self.place_cum[np.searchsorted(self.place_cum, np.arange(1, len(COUNTRIES) + 1)) - 1] = (
            np.arange(1, len(COUNTRIES) + 1) - 1e-12
        )
        off = np.random.default_rng(2024).normal(0, 0.12, (len(self.places), 40, 2))
        off[:, 0, :] = 0.0
        self.offsets = off
        self.place_lat = np.array([p[3] for p in self.places])
        self.place_lon = np.array([p[4] for p in self.places])
        self.mention_cum = _cum(MENTION_COUNTS)
        self.lag_days = np.array([d for d, _ in LAGS])
        self.lag_cum = _cum([n for _, n in LAGS])
        self.geo_us = (np.array([t for t, _ in GEO_TYPES_US]), _cum([n for _, n in GEO_TYPES_US]))
        self.geo = (np.array([t for t, _ in GEO_TYPES]), _cum([n for _, n in GEO_TYPES]))
        self.actor_pairs = np.array([p for p, _ in ACTORS])
        self.actor_cum = _cum([n for _, n in ACTORS])

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Lookup tables for :func:`_format`: codes, countries, places, words."""
        con.execute("CREATE OR REPLACE TEMP TABLE g_code (k INT, code VARCHAR, gold DOUBLE)")
        con.executemany("INSERT INTO g_code VALUES (?, ?, ?)",
                        [(k, c, g) for k, (c, _, g) in enumerate(self.codes)])  # fmt: skip
        con.execute("CREATE OR REPLACE TEMP TABLE g_country (k INT, fips VARCHAR, lat DOUBLE, "
                    "lon DOUBLE, name VARCHAR, cameo VARCHAR)")  # fmt: skip
        con.executemany("INSERT INTO g_country VALUES (?, ?, ?, ?, ?, ?)",
                        [(k, f, la, lo, nm, cm) for k, (f, _, la, lo, nm, cm)
                         in enumerate(COUNTRIES)])  # fmt: skip
        con.execute("CREATE OR REPLACE TEMP TABLE g_place (k INT, name VARCHAR, adm1 VARCHAR)")
        con.executemany("INSERT INTO g_place VALUES (?, ?, ?)",
                        [(k, p[1], p[2]) for k, p in enumerate(self.places)])  # fmt: skip

    def draw(self, seed: int, chunk: int, rows: int) -> dict[str, np.ndarray]:
        """The random draws of one chunk (``rows`` rows): the same for the same arguments."""
        rng = np.random.default_rng([seed, chunk])
        u = rng.random((rows, 12))
        country = np.searchsorted(self.country_cum, u[:, 0], side="right")
        country = np.minimum(country, self.no_geo)
        is_us = country == self.us
        gt_us = self.geo_us[0][np.searchsorted(self.geo_us[1], u[:, 1], side="right")]
        gt = self.geo[0][np.searchsorted(self.geo[1], u[:, 1], side="right")]
        geo_type = np.where(country == self.no_geo, 0, np.where(is_us, gt_us, gt))
        safe = np.minimum(country, self.no_geo - 1)
        place = np.searchsorted(self.place_cum, safe + u[:, 2], side="right")
        place = np.clip(place, self.first_place[safe], self.first_place[safe + 1] - 1)
        sub = np.where(u[:, 3] < 0.5, 0, 1 + (u[:, 3] * 78).astype(np.int64) % 39)
        pairs = self.actor_pairs[np.searchsorted(self.actor_cum, u[:, 4], side="right")]
        other = np.searchsorted(self.country_cum, u[:, 5:7], side="right")
        other = np.minimum(other, self.no_geo - 1)
        a_country = np.where(pairs == 0, safe[:, None], np.where(pairs == 1, other, -1))
        a_country[(pairs == 0) & (country == self.no_geo)[:, None]] = -1
        a_type = (u[:, 7:9] * 2 * len(ACTOR_TYPES)).astype(np.int64) - len(ACTOR_TYPES)
        plat, plon = self.place_lat[place], self.place_lon[place]
        lat = plat + self.offsets[place, sub, 0]
        lon = plon + self.offsets[place, sub, 1]
        mentions = 1 + np.searchsorted(self.mention_cum, rng.random(rows), side="right")
        tail = np.maximum(11, np.rint(np.exp(rng.normal(*MENTIONS_TAIL, rows))))
        mentions = np.where(mentions > 10, tail, mentions).astype(np.int64)
        return {
            "code": np.searchsorted(self.code_cum, u[:, 9] * self.code_cum[-1], side="right"),
            "lag": self.lag_days[np.searchsorted(self.lag_cum, u[:, 10], side="right")],
            "country": np.where(country == self.no_geo, -1, country),
            "geo_type": geo_type,
            "place": place,
            "sub": sub,
            "plat": plat,
            "plon": plon,
            "lat": np.round(lat, 4),
            "lon": np.round(lon, 4),
            "a1": a_country[:, 0],
            "a2": a_country[:, 1],
            "t1": a_type[:, 0],  # < 0: no type code
            "t2": a_type[:, 1],
            "mentions": mentions,
            "sources": np.where(u[:, 11] < ONE_SOURCE, 1, 2 + (u[:, 11] * 100).astype(int) % 3),
            "tone": rng.normal(*TONE, rows),
            "root": rng.random(rows) < ROOT_SHARE,
            "words": rng.integers(0, len(WORDS), (rows, 6)),
            "outlet": rng.integers(0, 500, rows),
        }


def _cum(counts: list[float]) -> np.ndarray:
    c = np.cumsum(np.asarray(counts, dtype=float))
    return c / c[-1]


_PROFILE: Profile | None = None


def profile() -> Profile:
    global _PROFILE
    if _PROFILE is None:
        _PROFILE = Profile()
    return _PROFILE


@functools.lru_cache(maxsize=2)
def _draw(seed: int, chunk: int, rows: int) -> dict[str, np.ndarray]:
    """One chunk's draws, kept while consecutive files cut the same chunk."""
    return profile().draw(seed, chunk, rows)


def chunk_frame(
    seed: int,
    n: int,
    i0: int,
    i1: int,
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
    first_id: int = FIRST_ID,
) -> dict[str, np.ndarray]:
    """Rows ``[i0, i1)`` of an ``n``-row data set over ``[start, end)`` as arrays."""  # fmt: skip
    parts = []
    for c in range(i0 // CHUNK, (i1 - 1) // CHUNK + 1):
        lo, hi = c * CHUNK, min((c + 1) * CHUNK, n)
        d = _draw(seed, c, hi - lo)
        a, b = max(i0, lo) - lo, min(i1, hi) - lo
        parts.append({k: v[a:b] for k, v in d.items()})
    out = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    i = np.arange(i0, i1, dtype=np.int64)
    span = (end - start).total_seconds()
    t0 = int((start - dt.datetime(1970, 1, 1)).total_seconds())
    secs = t0 + ((i + 0.5) * (span / n)).astype(np.int64)
    out["i"] = i
    out["id"] = first_id + i
    out["added"] = secs - secs % BATCH_S
    for k in ("t1", "t2"):
        out[k] = np.where(out[k] >= 0, out[k], -1)
    w = out.pop("words")
    for j in range(w.shape[1]):
        out[f"w{j}"] = w[:, j]
    return out


def _format_sql() -> str:
    """The 61 columns of a GDELT 2.0 export from one chunk frame ``f``, in row order."""
    words = " || '-' || ".join(f"list_element($words, f.w{j}::INT + 1)" for j in range(6))

    def actor(n: int) -> str:
        kind = f"list_element($types, f.t{n}::INT + 1)"
        return f"""
        CASE WHEN f.a{n} >= 0 THEN a{n}.cameo || coalesce({kind}, '')
             WHEN f.t{n} >= 0 THEN {kind} END,
        CASE WHEN f.a{n} >= 0 THEN upper(a{n}.name)
             WHEN f.t{n} >= 0 THEN list_element($tnames, f.t{n}::INT + 1) END,
        a{n}.cameo, NULL, NULL, NULL, NULL, {kind}, NULL, NULL"""

    return f"""
    SELECT f.id, strftime(d.occurred, '%Y%m%d'), strftime(d.occurred, '%Y%m'),
        year(d.occurred), round(year(d.occurred) + (dayofyear(d.occurred) - 1) / 365.0, 4),
        {actor(1)}, {actor(2)},
        f.root::INT, g.code, left(g.code, 3), left(g.code, 2),
        CASE WHEN left(g.code, 2) <= '05' THEN 1 WHEN left(g.code, 2) <= '08' THEN 2
             WHEN left(g.code, 2) <= '13' THEN 3 ELSE 4 END,
        g.gold, f.mentions, f.sources, f.mentions, f.tone,
        {_geo("f.a1 >= 0 OR f.t1 >= 0")},
        {_geo("f.a2 >= 0 OR f.t2 >= 0")},
        {_geo("TRUE")},
        strftime(d.added, '%Y%m%d%H%M%S'),
        'https://www.' || list_element($outlets, f.outlet::INT + 1) || '.com/'
            || list_element($sections, (f.outlet % 8)::INT + 1) || '/'
            || strftime(d.added, '%Y/%m/%d') || '/' || {words} || '-' || f.id || '.html'
    FROM f
    CROSS JOIN LATERAL (SELECT make_timestamp(f.added * 1000000) AS added,
                        make_timestamp(f.added * 1000000)::DATE - f.lag::INT AS occurred) d
    JOIN g_code g ON g.k = f.code
    LEFT JOIN g_country c ON c.k = f.country
    LEFT JOIN g_country a1 ON a1.k = f.a1
    LEFT JOIN g_country a2 ON a2.k = f.a2
    LEFT JOIN g_place p ON p.k = f.place
    ORDER BY f.i"""


def _geo(when: str) -> str:
    """The eight geography columns (Type, FullName, CountryCode, ADM1, ADM2, Lat, Long,
    FeatureID) of the action's place, blank unless ``when`` (an actor's geography is the
    action's place when the actor is there)."""
    point = "f.geo_type IN (3, 4)"
    adm = "f.geo_type IN (2, 5)"
    cols = [
        "f.geo_type::VARCHAR",
        f"""CASE WHEN f.geo_type = 1 THEN c.name
             WHEN {adm} THEN split_part(p.name, ', ', 2) || ', ' || c.name
             WHEN f.sub = 0 THEN p.name ELSE 'Village ' || f.sub || ' near ' || p.name END""",
        "c.fips",
        "CASE WHEN f.geo_type = 1 THEN c.fips ELSE p.adm1 END",
        f"CASE WHEN {point} THEN (10000 + f.place * 40 + f.sub)::VARCHAR END",
        f"""CASE WHEN f.geo_type = 1 THEN c.lat WHEN {adm} THEN round(f.plat + 0.5, 4)
             ELSE f.lat END::VARCHAR""",
        f"""CASE WHEN f.geo_type = 1 THEN c.lon WHEN {adm} THEN round(f.plon - 0.5, 4)
             ELSE f.lon END::VARCHAR""",
        f"""CASE WHEN f.geo_type = 1 THEN c.fips WHEN {adm} THEN p.adm1
             ELSE (-1000000 - f.place * 40 - f.sub)::VARCHAR END""",
    ]
    return ",\n        ".join(f"CASE WHEN f.geo_type > 0 AND ({when}) THEN {c} END" for c in cols)


@functools.lru_cache(maxsize=1)
def _connection(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """The formatting connection (lookup tables registered once per process)."""
    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    con.execute("SET preserve_insertion_order = true")
    profile().register(con)
    return con


_PARAMS = {
    "words": WORDS,
    "types": ACTOR_TYPES,
    "tnames": [
        "GOVERNMENT",
        "MILITARY",
        "POLICE",
        "COMPANY",
        "JOURNALIST",
        "COURT",
        "OPPOSITION",
        "CIVILIAN",
        "REBEL",
        "PARLIAMENT",
    ],
    "outlets": [f"{WORDS[k % len(WORDS)]}{WORDS[(k * 7) % len(WORDS)]}{k}" for k in range(500)],
    "sections": SECTIONS,
}


def write_rows(
    path: Path,
    seed: int,
    n: int,
    i0: int = 0,
    i1: int | None = None,
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
    first_id: int = FIRST_ID,
    threads: int = 2,
) -> int:
    """Write rows ``[i0, i1)`` of the ``n``-row set as one GDELT export; rows written."""
    i1 = n if i1 is None else i1
    path = Path(path)
    con = _connection(threads)
    sql = _format_sql()
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp, path.open("wb") as out:
        lo = i0
        while lo < i1:  # up to each chunk's end: a file may start inside a chunk
            hi = min(lo - lo % CHUNK + CHUNK, i1)
            f = chunk_frame(seed, n, lo, hi, start=start, end=end, first_id=first_id)  # noqa: F841
            part = Path(tmp) / "part.tsv"
            con.execute(
                f"COPY ({sql}) TO '{part}' (FORMAT csv, DELIMITER '\t', HEADER false, "
                "QUOTE '', ESCAPE '')",
                _PARAMS,
            )
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
            lo = hi
    return i1 - i0


def day_ranges(
    n: int, *, start: dt.datetime = START, end: dt.datetime = END, days: int = 1
) -> Iterator[tuple[int, int, str]]:
    """``(i0, i1, name)`` for the rows of each ``days``-day file: a run of 15-minute batches
    named by its last batch (``YYYYMMDDHHMMSS.export.CSV``), so the adapter's date checks
    (SQLDATE up to 366 days before the file's stamp) hold."""  # fmt: skip
    span = (end - start).total_seconds()
    day = start
    i0 = 0
    while i0 < n:
        nxt = min(day + dt.timedelta(days=days), end)
        # first row whose time is at or after nxt: (i + 0.5) * span / n >= (nxt - start)
        i1 = min(n, int(np.ceil((nxt - start).total_seconds() * n / span - 0.5)))
        if nxt >= end:
            i1 = n
        if i1 > i0:
            last = dt.datetime(1970, 1, 1) + dt.timedelta(
                seconds=int(chunk_frame_time(i1 - 1, n, start, end))
            )
            yield i0, i1, f"{last:%Y%m%d%H%M%S}.export.CSV"
        i0, day = i1, nxt


def chunk_frame_time(i: int, n: int, start: dt.datetime, end: dt.datetime) -> int:
    """DATEADDED (seconds since 1970) of row ``i``, as :func:`chunk_frame` computes it."""
    span = (end - start).total_seconds()
    t0 = int((start - dt.datetime(1970, 1, 1)).total_seconds())
    secs = t0 + int((i + 0.5) * (span / n))
    return secs - secs % BATCH_S


def write_batch(
    folder: Path, seed: int, at: dt.datetime, rows: int = 2400, first_id: int = FIRST_ID
) -> Path:
    """One 15-minute export at ``at`` (``rows`` rows, as many as the samples'), ids from
    ``first_id``: what the feed delivers every quarter of an hour."""  # fmt: skip
    path = Path(folder) / f"{at:%Y%m%d%H%M%S}.export.CSV"
    write_rows(path, seed, rows, start=at, end=at + dt.timedelta(seconds=BATCH_S),
               first_id=first_id)  # fmt: skip
    return path


# --------------------------------------------------------------------------- fit
SHARES_SQL = {
    "EventRootCode": "EventRootCode",
    "ActionGeo_Type": "coalesce(ActionGeo_Type, '0')",
    "theatre country (ActionGeo)": "CASE WHEN ActionGeo_CountryCode IN ('BO', 'UP', 'PL', 'LH', "
    "'LG', 'RS') THEN ActionGeo_CountryCode WHEN ActionGeo_CountryCode = 'US' THEN 'US' "
    "WHEN ActionGeo_CountryCode IS NULL THEN 'none' ELSE 'other' END",
    "Actor1CountryCode set": "(Actor1CountryCode IS NOT NULL)::VARCHAR",
    "Actor2CountryCode set": "(Actor2CountryCode IS NOT NULL)::VARCHAR",
    "DATEADDED - SQLDATE, days": "least(datediff('day', strptime(SQLDATE, '%Y%m%d'), "
    "strptime(DATEADDED, '%Y%m%d%H%M%S')), 2)::VARCHAR",
    "NumMentions": "CASE WHEN NumMentions::INT <= 2 THEN '1-2' WHEN NumMentions::INT <= 5 "
    "THEN '3-5' WHEN NumMentions::INT <= 10 THEN '6-10' ELSE '>10' END",
    "AvgTone": "CASE WHEN AvgTone::DOUBLE < -5 THEN '<-5' WHEN AvgTone::DOUBLE < 0 THEN '-5..0' "
    "ELSE '>=0' END",
    "IsRootEvent": "IsRootEvent",
}


def read_exports(con: duckdb.DuckDBPyConnection, paths: list[Path], table: str = "r") -> None:
    """Load GDELT export files (plain or gzipped) into ``table``, every column as text."""
    from vigil.sources.gdelt import COLUMNS

    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv($p, delim='\t', quote='', "
        "escape='', header=false, columns=$c, auto_detect=false)",
        {"p": [str(p) for p in paths], "c": dict.fromkeys(COLUMNS, "VARCHAR")},
    )


def fit_shares(con: duckdb.DuckDBPyConnection, table: str = "r") -> dict[str, dict[str, float]]:
    """Share of rows per value of each statistic of :data:`SHARES_SQL` in ``table``."""
    out = {}
    for name, expr in SHARES_SQL.items():
        rows = con.execute(f"SELECT {expr} AS v, count(*) / sum(count(*)) OVER () FROM {table} "
                           "GROUP BY 1 ORDER BY 1").fetchall()  # fmt: skip
        out[name] = {str(v): float(s) for v, s in rows}
    extra = con.execute(
        f"SELECT median(NumMentions::INT), avg(NumMentions::INT), avg(AvgTone::DOUBLE), "
        f"stddev(AvgTone::DOUBLE), avg(length(SOURCEURL)), "
        f"avg(length(concat_ws(chr(9), *COLUMNS(*)))) FROM {table}"
    ).fetchone()
    keys = ("median mentions", "mean mentions", "mean tone", "sd tone", "URL length", "row bytes")
    out["scalars"] = dict(zip(keys, map(float, extra), strict=True))
    return out
