"""Put back the spaces OCR drops in widely spaced print: ``SANYUSTATIONERYSHOP`` → ``SANYU STATIONERY SHOP``.

The text detector reads a line of letter-spaced capitals (common on shop headers) as one box, and the recogniser
then returns it without spaces. A long all-letter token is split when it reads as words of a bundled vocabulary of
shop-name words (kinds of shop and goods, company words, common adjectives, in English and Malay), allowing one
piece outside it (the proper name: ``SANYU``). Tokens that are vocabulary words themselves (``SUPERMARKET``) and
tokens that do not read as such words (``WOOLWORTHS``) are left alone: a wrong split costs more than a missed one.
"""

from __future__ import annotations

import re
from functools import cache

MIN_LENGTH = 10  # shorter tokens are real words or names far more often than glued ones
MIN_UNKNOWN = 3  # the one piece outside the vocabulary (the proper name) has at least this many letters
MIN_KNOWN_SHARE = 0.5  # vocabulary words cover at least this share of the token's letters

_VOCABULARY = frozenset(
    """
    SHOP SHOPS STORE STORES MART MARKET MARKETS MINIMARKET SUPERMARKET HYPERMARKET SUPERSTORE MINI SUPER HYPER
    STATIONERY STATIONERS BOOK BOOKS BOOKSTORE BOOKSHOP PRINTING PRINT PRINTERS PAPER OFFICE
    HARDWARE TOOLS TOOL BUILDING MATERIAL MATERIALS ELECTRICAL ELECTRIC ELECTRONIC ELECTRONICS LIGHTING PAINT
    ENGINEERING MACHINERY MOTOR MOTORS AUTO AUTOMOTIVE TYRE TYRES TIRE TIRES PARTS SPARE GARAGE PETROL STATION
    FOOD FOODS BEVERAGE BEVERAGES DRINK DRINKS RESTAURANT RESTAURANTS CAFE COFFEE TEA HOUSE KITCHEN GRILL BAR
    BAKERY BAKERIES CAKE CAKES CONFECTIONERY BREAD NOODLE NOODLES RICE CHICKEN FISH SEAFOOD MEAT FRUIT FRUITS
    VEGETABLE VEGETABLES DELI PIZZA BURGER BURGERS SUSHI STEAK STEAKHOUSE DINER BISTRO PUB TAVERN CANTEEN
    PHARMACY CHEMIST CLINIC MEDICAL HEALTH DENTAL OPTICAL BEAUTY SALON SPA FASHION CLOTHING TAILOR TAILORING
    TEXTILE TEXTILES SHOES FURNITURE HOME LIVING GARDEN FLORIST FLOWER FLOWERS GIFT GIFTS TOYS TOY SPORTS SPORT
    HANDICRAFT CRAFT CRAFTS JEWELLERY JEWELRY WATCH WATCHES MOBILE PHONE COMPUTER COMPUTERS DIGITAL PHOTO
    TRADING TRADERS TRADE ENTERPRISE ENTERPRISES COMPANY CORPORATION HOLDINGS GROUP INDUSTRIES INDUSTRY
    INTERNATIONAL GLOBAL NATIONAL SERVICE SERVICES SUPPLY SUPPLIES SUPPLIER SOLUTIONS SYSTEMS MARKETING
    DISTRIBUTOR DISTRIBUTORS DISTRIBUTION WHOLESALE RETAIL IMPORT EXPORT AGENCY AGENCIES CENTRE CENTER
    CASH CARRY OUTLET OUTLETS DEPOT WAREHOUSE FACTORY MALL PLAZA CITY TOWN
    NEW OLD GOLDEN GOLD SILVER ROYAL GRAND GREAT BIG LITTLE GOOD BEST FRESH GREEN RED BLUE WHITE BLACK HAPPY LUCKY
    EASTERN WESTERN NORTHERN SOUTHERN CENTRAL EAST WEST NORTH SOUTH STAR SUN MOON LIGHT SPEED FAMILY FRIENDS
    PERNIAGAAN SYARIKAT KEDAI RUNCIT RESTORAN PASAR RAYA PASARAYA MAKANAN MINUMAN KOPI ROTI KUIH
    GUNNY BORONG AYAM IKAN SAYUR BUAH
    THE AND OF
    """.split()
)
_TOKEN = re.compile(r"[A-Za-z]+")


@cache
def _split(token: str) -> tuple[str, ...] | None:
    """The best reading of ``token`` (upper case) as vocabulary words plus at most one other piece, or None."""
    n = len(token)
    # best[i]: (letters read as words, pieces, unknown pieces, the pieces) for token[:i]
    best: list[tuple[int, int, int, tuple[str, ...]] | None] = [None] * (n + 1)
    best[0] = (0, 0, 0, ())
    for end in range(1, n + 1):
        for start in range(end):
            before = best[start]
            piece = token[start:end]
            known = piece in _VOCABULARY
            if before is None or (not known and (len(piece) < MIN_UNKNOWN or before[2] == 1)):
                continue
            candidate = (before[0] + len(piece) * known, before[1] + 1, before[2] + (not known), (*before[3], piece))
            current = best[end]
            # most letters read as words, then fewest pieces (SUPERMARKET stays whole)
            if current is None or (-candidate[0], candidate[1]) < (-current[0], current[1]):
                best[end] = candidate
    found = best[n]
    if found is None or found[0] < MIN_KNOWN_SHARE * n or found[1] < 2:
        return None
    return found[3]


def _respace(match: re.Match[str]) -> str:
    token = match.group(0)
    if len(token) < MIN_LENGTH or not token.isupper() or token in _VOCABULARY:
        return token
    pieces = _split(token)
    return " ".join(pieces) if pieces else token


def unglue(text: str) -> str:
    """``text`` with long capital tokens that read as several shop-name words split at the word boundaries."""
    return _TOKEN.sub(_respace, text)
