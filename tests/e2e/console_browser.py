#!/usr/bin/python3
"""console_browser.py — drive the taap console in headless Chromium (Debian
chromium + chromium-driver, python3-selenium), for test_console_browser.sh.

Signs in with the admin token (keyboard only), creates an application
(secret shown once), pastes a private key (refused with the Quick Start's
advice) and then the public key, subscribes, activates a kit with its IMEI
and ICCID (a wrong Luhn digit is caught first), then a small client calls
the Connectivity API with a PoP that signed the percent-encoded query, and
the live log must show that request with the named likely cause. Each step
leaves a screenshot in ARTIFACTS. Exits non-zero on the first failed check.

Environment: BASE, ADMIN (admin token), TAAP (the taap command), KEY and
PUB (a key pair), PRIV_PASTE (the private key to paste by mistake),
ARTIFACTS (directory), PROFILE_DIR (a fresh --user-data-dir).
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["BASE"]
ADMIN = os.environ["ADMIN"]
TAAP = os.environ["TAAP"]
ART = os.environ["ARTIFACTS"]
checks = 0


def check(name, cond, detail=""):
    global checks
    if not cond:
        shot("failed")
        print(f"FAIL: {name} {detail}")
        sys.exit(1)
    checks += 1
    print(f"ok   {name}")


def shot(name):
    path = os.path.join(ART, f"{name}.png")
    driver.save_screenshot(path)
    return path


def wait_text(by, sel, text, timeout=15):
    try:
        WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((by, sel), text))
        return True
    except TimeoutException:
        return False


def fill(el_id, value):
    e = driver.find_element(By.ID, el_id)
    e.clear()
    e.send_keys(value)
    return e


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,1600",
          "--user-data-dir=" + os.environ["PROFILE_DIR"]):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    # 1. Sign in, keyboard only: the token field has the focus, Enter submits.
    driver.get(BASE + "/console")
    WebDriverWait(driver, 15).until(EC.visibility_of_element_located((By.ID, "admin-token")))
    check("token field is labelled",
          driver.find_element(By.CSS_SELECTOR, "label[for=admin-token]").text == "Admin token")
    shot("01-signin")
    fill("admin-token", "wrong-token").send_keys(Keys.ENTER)
    check("a wrong token is refused", wait_text(By.ID, "error", "wrong admin token"))
    fill("admin-token", ADMIN).send_keys(Keys.ENTER)
    WebDriverWait(driver, 15).until(EC.visibility_of_element_located((By.ID, "app")))
    check("signed in", driver.find_element(By.ID, "signout").is_displayed())
    cookies = driver.get_cookies()
    c = [k for k in cookies if k["name"] == "taap_console"]
    check("session cookie is HttpOnly and SameSite=Strict",
          len(c) == 1 and c[0]["httpOnly"] and c[0].get("sameSite") == "Strict", str(cookies))
    check("the page cannot read the cookie",
          "taap_console" not in driver.execute_script("return document.cookie"))

    # 2. Create an application: the secret is shown once.
    fill("app-name", "shop").send_keys(Keys.ENTER)
    WebDriverWait(driver, 15).until(EC.visibility_of_element_located((By.ID, "secret-box")))
    client_id = driver.find_element(By.ID, "new-client-id").text
    secret = driver.find_element(By.ID, "new-client-secret").text
    check("client id and secret shown", len(client_id) == 32 and len(secret) == 40,
          f"{client_id!r} {len(secret)}")
    shot("02-app-created")
    driver.find_element(By.ID, "secret-done").click()
    check("secret hidden after 'saved'",
          not driver.find_element(By.ID, "secret-box").is_displayed() and
          driver.find_element(By.ID, "new-client-secret").get_attribute("textContent") == "")

    # 3. A private key pasted by mistake is refused with the advice; then the public key.
    with open(os.environ["PRIV_PASTE"]) as f:
        fill("key-pem", f.read())
    driver.find_element(By.CSS_SELECTOR, "#key-add button[type=submit]").click()
    check("private key refused with the advice", wait_text(By.ID, "key-advice", "PRIVATE key"),
          driver.find_element(By.ID, "key-advice").text)
    check("the field is marked invalid",
          driver.find_element(By.ID, "key-pem").get_attribute("aria-invalid") == "true")
    check("the private key is cleared from the page",
          driver.find_element(By.ID, "key-pem").get_attribute("value") == "")
    shot("03-private-key-refused")
    with open(os.environ["PUB"]) as f:
        fill("key-pem", f.read())
    driver.find_element(By.CSS_SELECTOR, "#key-add button[type=submit]").click()
    check("public key added", wait_text(By.ID, "flash", "added to shop"))
    try:
        WebDriverWait(driver, 15).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keys-table tbody tr")) == 1)
        listed = True
    except TimeoutException:
        listed = False
    check("the key is listed", listed)

    # 4. Subscribe to the Connectivity API.
    row = driver.find_element(By.XPATH, "//table[@id='apps-table']//tr[th='shop']")
    row.find_element(By.XPATH, ".//button[starts-with(., 'Subscribe')]").click()
    check("subscribed", wait_text(By.ID, "flash", "shop subscribed to iot-connectivity"))

    # 5. Activate a kit: a wrong check digit is caught, then the right numbers.
    fill("kit-imei", "490154203237519")
    fill("kit-iccid", "8901260000000000006")
    driver.find_element(By.CSS_SELECTOR, "#kit-activate button[type=submit]").click()
    check("IMEI Luhn error shown", wait_text(By.ID, "kit-imei-msg", "Luhn"))
    check("IMEI marked invalid",
          driver.find_element(By.ID, "kit-imei").get_attribute("aria-invalid") == "true")
    fill("kit-imei", "490154203237518")
    driver.find_element(By.ID, "kit-iccid").send_keys(Keys.ENTER)  # keyboard submit
    check("kit activated", wait_text(By.ID, "flash", "Kit activated: ICCID 8901260000000000006"))
    check("device listed", wait_text(By.ID, "devices-table", "8901260000000000006"))
    shot("04-kit-activated")

    # 6. A client that signs the percent-encoded query (taap pop over the
    # double-encoded URL hashes "%20"; the server decodes "%20" to a space).
    env = dict(os.environ, TEST_SECRET=secret)
    tok = subprocess.run([TAAP, "token", "--base-url", BASE, "--client-id", client_id,
                          "--secret-env", "TEST_SECRET", "--key", os.environ["KEY"], "--json",
                          "--show-token"], env=env, capture_output=True, text=True)
    check("taap token", tok.returncode == 0, tok.stderr)
    at = json.loads(tok.stdout)["access_token"]
    pop = subprocess.run([TAAP, "pop", "--key", os.environ["KEY"], "-H", "Authorization: Bearer " + at,
                          BASE + "/iot-connectivity/v1/devices?status=ACTIVE%2520X"],
                         capture_output=True, text=True)
    check("taap pop", pop.returncode == 0, pop.stderr)
    req = urllib.request.Request(BASE + "/iot-connectivity/v1/devices?status=ACTIVE%20X",
                                 headers={"Authorization": "Bearer " + at,
                                          "X-Authorization": pop.stdout.strip()})
    try:
        urllib.request.urlopen(req)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    check("the mistaken call is rejected", status == 401, str(status))

    # 7. The live log shows it, opened to its explanation, without a reload.
    cause = "edts matches this request only if the query is percent-encoded: sign the decoded query"
    check("log row with the likely cause appears", wait_text(By.ID, "log-table", cause, timeout=20))
    row = driver.find_element(By.CSS_SELECTOR, "#log-table tbody tr.bad")
    check("row is the API call", "GET /iot-connectivity/v1/devices" in row.text and "TAAP_E_EDTS" in row.text,
          row.text)
    details = row.find_element(By.CSS_SELECTOR, "details.why")
    check("explanation is open", details.get_attribute("open") is not None)
    check("explanation shows the uri the client hashed",
          "uri hashed as '/iot-connectivity/v1/devices?status=ACTIVE%20X'" in details.text, details.text)
    check("access token not shown", at not in driver.page_source)
    driver.execute_script("arguments[0].scrollIntoView()", row)
    shot("05-log-explained")

    # 8. Device suspend, then sign out.
    drow = driver.find_element(By.XPATH, "//table[@id='devices-table']//tr[th='8901260000000000006']")
    drow.find_element(By.XPATH, ".//button[starts-with(., 'Suspend')]").click()
    check("device suspended", wait_text(By.ID, "flash", "is SUSPENDED"))
    driver.find_element(By.ID, "signout").click()
    WebDriverWait(driver, 15).until(EC.visibility_of_element_located((By.ID, "admin-token")))
    check("signed out", not driver.find_element(By.ID, "app").is_displayed())
    driver.refresh()
    WebDriverWait(driver, 15).until(EC.visibility_of_element_located((By.ID, "admin-token")))
    check("still signed out after reload", not driver.find_element(By.ID, "app").is_displayed())
    shot("06-signed-out")

    # No CSP violations or script errors in the console.
    # (the refusals the test provoked are network 4xx, not script errors)
    errors = [m for m in driver.get_log("browser") if m["level"] == "SEVERE"
              and not (m["source"] == "network" and "status of 4" in m["message"])]
    check("no script errors or CSP violations", not errors, json.dumps(errors))
finally:
    driver.quit()
print(f"console browser: ok ({checks} checks, screenshots in {ART})")
