/*
 * test_keys.h — fixed RSA-2048 test keys for the fuzz targets, the smoke
 * driver and the adversarial suites (generated once with
 * `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`; they guard
 * nothing). Fixed keys keep fuzz inputs and table rows reproducible.
 */
#ifndef TAAP_TEST_KEYS_H
#define TAAP_TEST_KEYS_H

/* The signing key of every fuzz input and table row. */
static const char TK_PRIVATE_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCZHcUEQwwW7J/U\n"
    "AlOAOQSkoDgHwekG0sHYxkx0pHoMmUGmzkLXuK7aESAJ1OPfYEPvCRMIy+VYBHUn\n"
    "Sij0y44c2imybrSNnzZDGsg3KgLS5DStmoMP2EBBjol0LYNAnAunQ5RIsbgX7DX4\n"
    "pst9HfuE9+BjrUBd2EMZEasRQPJy9LtqP5JfLZz4oLHWXcDhMxu1JnPcj92S8WOW\n"
    "zXVJF1WKRByuSrAJGLCrHd5vE530M/OLDKjHeQdKwaQZa0BzDZyEESaE0faslvXJ\n"
    "6Utg5ODrLNv7T9d330L79i9aPzd4mjf7AXvzi2kq2G4EklUUHYGrGvRDKh6yh43T\n"
    "o8rNtt6ZAgMBAAECggEACNk782P6CQGd93M2duKkqmxhbI5X3Id1wSStkrCWJo/9\n"
    "R6nkGkIfpbXHZZYOYLB4IJJkTZX18C0axZ1fKk1wrilr7zY/XC9bJAviTfDRNrWO\n"
    "N0mmgRYI2ZkGh8ahDwztjfolccGGf2hs0oy2FgoTaOLnzm7a2UmIECTxn0bC9CJq\n"
    "UM8aOHQbs5adHd1Jin9qKONbnpfQaU+qMyShwjnS0AtAlcEj2mnhchs3gmxbuEk7\n"
    "4ZMHJ+hu0UWK4ZLID1zkcFZC7bedvOICF2HBg6Jr4X+dK6fxZUL4qcmmJeayMbNc\n"
    "QQOFkTsjOyZzPx1K/xaBzvdPiK9XGOKqGNUxEIa4AQKBgQDYQhYYSg7nvjQzd3sz\n"
    "Kom29cwOCVdKCAi6mSWK0SCGVhDd6HbXKN4blCA34pipqLWIC1fy3YHeKNZDvarv\n"
    "DecF08rZVb/m1gvLapWsQp/YOgIvUz44FGfah1p0zjCh0RAsoU2uc4p7LL/JzBJx\n"
    "W+xGG7q9luT0x1oQJj6Ca0HmmQKBgQC1QSj59MnM9yXAjdoI6GeZGDyY4MT5oiOG\n"
    "QKkQK3XOOW0AznKDsle9ykUuddh3y7ZgJ/wbZpNaU4z0n85vlSDJ/jic5POqOp2E\n"
    "zWUvlI/OwwdLg/3qb81+Jvk7JddwbRfMYQ9PSWzi/T9e7NFu16XuNcxyZEIjBHK/\n"
    "5K8gZ8+4AQKBgQCPMAqzIG4IEU88+JKRSUwP4WWvsY2jTfiBnJ9X76nqaJgYZjAx\n"
    "vDR77DL87cMJKtSvdFtSSkoPz9g22CGS0RCzMg1wo69BZ1493J+nhCGUKKyDq0la\n"
    "FmDBN7ez+UYIDoX4FwF5TbVWY0XFlqJrfmLN9NRLbdrBHDHM2ZWwAtaKmQKBgQCp\n"
    "HPm5da6PgY0EwpVLOGPokJeBYD4IWEJi8ZOMFbCd0DCmzvhDbjO1TbMMrUFiTHyF\n"
    "7OipPCSB43ChkTUQIQjtzjdOE8RQ8M2laepd4XPny0nUKHvRr60AZiamDCGdsPvC\n"
    "YlDhfjWM+BKXY8fobmZQAnwVwvt+JplV9216g8FoAQKBgBZChEzQa4SsuA3p4AnQ\n"
    "4vKIynY/Zw1WST6K/aJAlqBqSfbiQHacJQOShjvx7A1ygATyxN54K8VlLwU36ZEY\n"
    "8bMBQIu2jIMumUWiUqYUPzQQ+IW1ZrsFNZsME8CGrNvA0P7gTXMtfjQSZlQQ9PSH\n"
    "7ftS9a5eYkGtZCaWIERLSAhQ\n"
    "-----END PRIVATE KEY-----\n"
    ;

static const char TK_PUBLIC_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmR3FBEMMFuyf1AJTgDkE\n"
    "pKA4B8HpBtLB2MZMdKR6DJlBps5C17iu2hEgCdTj32BD7wkTCMvlWAR1J0oo9MuO\n"
    "HNopsm60jZ82QxrINyoC0uQ0rZqDD9hAQY6JdC2DQJwLp0OUSLG4F+w1+KbLfR37\n"
    "hPfgY61AXdhDGRGrEUDycvS7aj+SXy2c+KCx1l3A4TMbtSZz3I/dkvFjls11SRdV\n"
    "ikQcrkqwCRiwqx3ebxOd9DPziwyox3kHSsGkGWtAcw2chBEmhNH2rJb1yelLYOTg\n"
    "6yzb+0/Xd99C+/YvWj83eJo3+wF784tpKthuBJJVFB2Bqxr0QyoesoeN06PKzbbe\n"
    "mQIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
    ;

/* A second, unrelated key ("signed by another key" cases). */
static const char TK_OTHER_PRIVATE_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC/xrNSkMIopIvP\n"
    "0HDCX0M09kcHWWdlWZHyvVV14eP25aSlL4lAW2chWYYkOez8C3dpGp+SyLvFR8Rg\n"
    "d2Kz7CTz/kHX7vKyBbxhaWJQX/tnlOCcJGsoATxHCRHvv99Dzv0jGEj+/ODlqkxL\n"
    "WY4CM0TuMyrmIEbC2xeE1pol0yOA1ueaIpfqG82lHn3tSTdc9v74wr749tHl2ygJ\n"
    "4X0VIRFXh/l5vrJTUF/xcqZ6OtLd1WgZUijzObBnvfgCN44iXYcnm2PUDuuuGAM4\n"
    "0NF8JnnBBbsoVttyZgTFRnmdzrfvRsGTP+7KclYs+jcFPdnWh1BDWH3sccV04SQl\n"
    "KfNtc97VAgMBAAECggEAHMeJ46sbqBPBc4dZVKINKOaIlD7DeH8vmtj0+ULT/hpK\n"
    "UgvHMiRFXsjbi5YxzUU/P0OijNmY7Csv+jYQVuXqSb9vTCNswnB/67Jv8ZXl2Y6L\n"
    "AoOonRFKZXKkAXGu5LMsY9biJXn3mh+rYWdoG0ZsYr7FAlH3rIhKiEHYUjLUUiIr\n"
    "ZhDQux7D6/WfD8LqQbnRo41IWwvw2BRCr+LggYPpX/wiO4g5vr8fAUWHSS7ugwNL\n"
    "af+8w+UymM9bXj9gt4M3WscdlsjnoEfZuVT5GQ9yALtv4q2wSVC/j0OLSeCexpve\n"
    "++r8w+yyFgSoAwVyoigZMnyqaEWodrovbQQcOkcxRQKBgQDt0t8IsllXgsKVxQTz\n"
    "3pwhLzj9ieRkUbgDHImwQuB4ACQI7dn8TQAUp8pnvgNSQ5LymnoBxPX7CNFpcKoQ\n"
    "6ucbSnauFP5+c11XHLnAPJ/aWzf7nlh4Q05QUZaVcL0S9OR/eoMXF3HZTDmrh0aO\n"
    "L3tV8AXJ5HNF9IT6Vt2ki6//lwKBgQDObuNiwtkoeCoB/p693hbk1OOV9MBwIQg8\n"
    "YDjx5zH5KJonROYpVgT4okYSx2dg5m1K2f7kHL9jRgqDIDoXcbfjktfPLgPX/16b\n"
    "G5PQxbGYfsfSzD/05ZxGvL/H7E9X5hcLJ2ScYVyHHW7+ZQSNsxr81clShsGLOw14\n"
    "4NEurF4icwKBgQDXUU7a6dZXk6ymuozkWoySwtVfPyQH67ClKIZEjhf6rW3yo53z\n"
    "fqdvDAcF7BPHvCRj/5Ys2e02zeIDC5z92h9JJx7SN3G+fKZqgzhtorW7lVDXP6Kr\n"
    "p4xUzbl/LWYRrqTeAcaD9pb9/LRN5xjrDHQm9zvWcT4ofNyUZmcfXdUHmwKBgGA7\n"
    "Uybb/E2gTrzlTGzoVjXQhFOIaBkdXPCATqt+Ak7LPalmtgC5B9I8G3xvlmKWqIZH\n"
    "P0ppmFKX+RiNcmcxbO7aql37bnFHq3uVDIA7WIHlQBOlgX8RdpuHK8PwBkDMkxtw\n"
    "/rbjsDWQZAiVYN0JjGAm7RXamejk22/pJbqjQbK/AoGAYKL05JXEwuNfjxZUFnDM\n"
    "xFwjYk7AF8S8SkUEqmcouFVC3iAYdRToVDXqP/6LzwWDcmohie7+IhS9pr8xIVzZ\n"
    "d6JwX78zzoi367E7fC21x3vKxs/cKJs8bC0R189NNcazrGyeRBnJcSGbzdJdMBca\n"
    "b/tMH796g0mCkQv+ZHVVeg4=\n"
    "-----END PRIVATE KEY-----\n"
    ;

static const char TK_OTHER_PUBLIC_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv8azUpDCKKSLz9Bwwl9D\n"
    "NPZHB1lnZVmR8r1VdeHj9uWkpS+JQFtnIVmGJDns/At3aRqfksi7xUfEYHdis+wk\n"
    "8/5B1+7ysgW8YWliUF/7Z5TgnCRrKAE8RwkR77/fQ879IxhI/vzg5apMS1mOAjNE\n"
    "7jMq5iBGwtsXhNaaJdMjgNbnmiKX6hvNpR597Uk3XPb++MK++PbR5dsoCeF9FSER\n"
    "V4f5eb6yU1Bf8XKmejrS3dVoGVIo8zmwZ734AjeOIl2HJ5tj1A7rrhgDONDRfCZ5\n"
    "wQW7KFbbcmYExUZ5nc6370bBkz/uynJWLPo3BT3Z1odQQ1h97HHFdOEkJSnzbXPe\n"
    "1QIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
    ;

#endif
