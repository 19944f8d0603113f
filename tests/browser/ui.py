"""Page helpers for Airflow 3.3's web UI, as a person uses it: the login page, a DAG's *Trigger* form and a
task's *Required Action* tab. Elements are found by what the page shows (label text, button text, ARIA
labels) wherever the page makes that possible; where it does not, by the names Airflow's form builder gives
its inputs (``element_<param>``) and the ``data-testid`` the UI exposes for the trigger and error elements.
Every wait is bounded and its failure says what the page showed.
"""
from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT_S = 60  # generous: under `make test` another Airflow-driving file shares the 2 cores


def _xpath_text(text: str) -> str:
    """``text`` as an XPath string literal (quotes included)."""
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in text.split("'")) + ")"


def shrink_png(path: Path, colors: int = 128) -> None:
    """A palette PNG (a third of the size, the same to the eye) when Pillow is there; else left as it is."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=colors)
    small.save(path, optimize=True)


@dataclass
class Outcome:
    """What pressing a button led to: the run it created (trigger) or the errors the page showed."""
    run_id: str | None = None
    errors: list[str] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Page:
    def __init__(self, driver: WebDriver, timeout_s: float = TIMEOUT_S):
        self.driver, self.timeout_s = driver, timeout_s

    def wait(self, condition, what: str, timeout_s: float | None = None):
        try:
            return WebDriverWait(self.driver, timeout_s or self.timeout_s, poll_frequency=0.25,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                                 ).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what} on {self.driver.current_url}; the page says:\n"
                                 f"{self.page_text()[:3000]}") from None

    def page_text(self) -> str:
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except Exception:  # noqa: BLE001 - diagnostics only
            return "(no page)"

    def toasts(self) -> list[str]:
        """The notifications in the corner (Chakra's toaster: role=status/alert inside the toast group)."""
        out = []
        for t in self.driver.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]"):
            try:
                if t.is_displayed() and t.text.strip():
                    out.append(t.text.strip())
            except StaleElementReferenceException:  # dismissed while being read
                pass
        return out

    @staticmethod
    def type_into(el: WebElement, value: str) -> None:
        """Replace a (React-controlled) input's text the way a person does: select all, delete, type."""
        el.click()
        el.send_keys(Keys.CONTROL, "a")
        el.send_keys(Keys.DELETE)
        if value:
            el.send_keys(value)


class AirflowUI(Page):
    """The whole UI for one browser; ``screenshots``: a directory to save named screenshots in (or None)."""

    def __init__(self, driver: WebDriver, base_url: str, screenshots: str | None = None,
                 timeout_s: float = TIMEOUT_S):
        super().__init__(driver, timeout_s)
        self.base_url = base_url.rstrip("/")
        self.screenshots = Path(screenshots) if screenshots else None

    def screenshot(self, name: str) -> Path | None:
        """Save the viewport as ``<screenshots>/<name>.png`` when screenshots were asked for."""
        if not self.screenshots:
            return None
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        shrink_png(path)
        return path

    # ------------------------------------------------------------------ login
    def logout(self) -> None:
        """Forget the session (the UI keeps its JWT in the ``_token`` cookie)."""
        if not self.driver.current_url.startswith(self.base_url):
            self.driver.get(self.base_url + "/auth/login")
        self.driver.delete_all_cookies()
        self.driver.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")

    def _labelled_input(self, label: str) -> WebElement:
        lab = self.driver.find_element(By.XPATH, f"//label[normalize-space()={_xpath_text(label)}]")
        return self.driver.find_element(By.ID, lab.get_attribute("for"))

    def login(self, username: str, password: str, *, again: bool = False) -> None:
        """Sign in on the simple auth manager's login page; returns once the UI shows the signed-in layout.
        A no-op when ``username`` is signed in already (unless ``again``)."""
        if not again and self.driver.current_url.startswith(self.base_url) and self.signed_in_user() == username:
            return
        self.logout()
        self.driver.get(self.base_url + "/auth/login")
        self.wait(lambda: self._labelled_input("Username"), "the login form")
        self.type_into(self._labelled_input("Username"), username)
        self.type_into(self._labelled_input("Password"), password)
        self.driver.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
        self.wait(lambda: "/auth/login" not in self.driver.current_url and self.signed_in_user() == username and
                  self.driver.find_elements(By.CSS_SELECTOR, "button[aria-label=User]"),
                  f"{username} to be signed in")

    def signed_in_user(self) -> str | None:
        """The user name in the UI's session token, or None when nobody is signed in."""
        cookie = self.driver.get_cookie("_token")
        if not cookie:
            return None
        payload = cookie["value"].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("sub")

    # ------------------------------------------------------------------ DAGs
    def open_dag(self, dag_id: str) -> None:
        self.driver.get(f"{self.base_url}/dags/{dag_id}")
        self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"),
                  f"{dag_id}'s page")

    def open_trigger_form(self, dag_id: str) -> TriggerForm:
        """The DAG's page, then its *Trigger* button: the form with the DAG's params."""
        self.open_dag(dag_id)
        self.driver.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']").click()
        heading = f"Trigger Dag - {dag_id}"

        def dialog():
            for d in self.driver.find_elements(By.CSS_SELECTOR, "[role=dialog]"):
                if d.is_displayed() and heading in d.text:
                    return d
            return None

        return TriggerForm(self, dag_id, self.wait(dialog, f"the trigger form of {dag_id}"))

    # ------------------------------------------------------------------ human-in-the-loop
    def open_required_action(self, dag_id: str, run_id: str, task_id: str, subject: str,
                             map_index: int = -1) -> RequiredAction:
        """A task instance's *Required Action* tab (what *Browse > Required Actions* links to); a mapped
        instance's is below ``/mapped/<map_index>``."""
        mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
        self.driver.get(f"{self.base_url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}{mapped}/required_actions")
        self.wait(lambda: subject in self.page_text(), f"the required action {subject!r}")
        return RequiredAction(self, subject)

    def required_actions_list(self, expect: tuple[str, ...] = ()) -> str:
        """*Browse > Required Actions*: the table's text once loaded (its rows arrive after its header: with
        ``expect``, once every one of those texts is shown)."""
        self.driver.get(f"{self.base_url}/required_actions")
        self.wait(lambda: "Required Action State" in self.page_text(), "the required actions list")
        if expect:
            self.wait(lambda: all(t in self.page_text() for t in expect), f"the required actions {list(expect)}")
        return self.page_text()


    # ------------------------------------------------------------------ the model dashboard (a plugin)
    def models_nav_link(self) -> WebElement | None:
        """The navigation's *Models* entry (the plugin's external view, routed to ``/plugin/airsage-models``)."""
        for a in self.driver.find_elements(By.CSS_SELECTOR, "a[href$='plugin/airsage-models']"):
            label = " ".join(filter(None, (a.text, a.get_attribute("aria-label"), a.get_attribute("title"))))
            if a.is_displayed() and "Models" in label:
                return a
        return None

    def open_models(self) -> Dashboard:
        """Click *Models* in Airflow's navigation, as a person does; the dashboard inside its iframe."""
        self.driver.switch_to.default_content()
        if not self.driver.current_url.startswith(self.base_url) or "/plugin/" in self.driver.current_url:
            self.driver.get(self.base_url + "/dags")
        self.wait(self.models_nav_link, "the Models entry in the navigation").click()
        # the UI mirrors the iframe's path below the view's route (``/plugin/airsage-models/airsage/``)
        self.wait(lambda: "/plugin/airsage-models" in self.driver.current_url, "the Models view to open")
        return Dashboard(self).enter()

    def open_dashboard_url(self, path: str = "/airsage/") -> Dashboard:
        """A dashboard page opened by its URL, top-level (a link someone was sent)."""
        self.driver.switch_to.default_content()
        self.driver.get(self.base_url + path)
        return Dashboard(self, framed=False)


class Dashboard:
    """The model dashboard's pages (``/airsage/...``): inside the Models view's iframe (``framed``) or as a
    page of its own. Elements are found by the ids the README lists for browser tests."""

    def __init__(self, ui: AirflowUI, framed: bool = True):
        self.ui, self.framed = ui, framed

    @property
    def driver(self) -> WebDriver:
        return self.ui.driver

    def _iframe(self) -> WebElement | None:
        for f in self.driver.find_elements(By.TAG_NAME, "iframe"):
            if "/airsage" in (f.get_attribute("src") or "") and f.is_displayed():
                return f
        return None

    def enter(self) -> Dashboard:
        """Switch into the Models view's iframe and wait for the overview to render."""
        self.driver.switch_to.default_content()
        frame = self.ui.wait(self._iframe, "the dashboard's iframe")
        self.driver.switch_to.frame(frame)
        self.ui.wait(lambda: self.find("#filters"), "the dashboard's overview in the iframe")
        return self

    @property
    def url(self) -> str:
        """The URL of the page shown (the iframe's own when framed)."""
        return self.driver.execute_script("return window.location.href")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    def follow(self, css: str, loaded: str, what: str) -> Dashboard:
        """Click the link ``css`` and wait until the page that opens has ``loaded`` (a CSS selector)."""
        before = self.url
        self.find(css).click()
        self.ui.wait(lambda: self.url != before and self.all(loaded), what)
        return self

    def open_report(self, css: str, expect: str) -> str:
        """Click the report link ``css`` (model card, Clarify, monitoring report: served by the dashboard,
        opened in the same frame); return the report's text once it shows ``expect``; then go back."""
        before = self.url
        href = self.find(css).get_attribute("href")
        self.find(css).click()
        self.ui.wait(lambda: self.url == href and expect in self.text(), f"the report {href} showing {expect!r}")
        text = self.text()
        # back to the page the link was on (not the browser's Back: the UI mirrors the iframe's path in the
        # top-level history, so Back's target depends on the UI version)
        self.driver.execute_script("window.location.replace(arguments[0])", before)
        self.ui.wait(lambda: self.url == before and self.all("main"), f"the way back to {before}")
        return text

    def select(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(css)).select_by_value(value)

    def trace(self, usecase: str, inference_id: str) -> Dashboard:
        """The search box in the dashboard's header: from an inference id to its lineage."""
        self.select("#lineage-usecase", usecase)
        self.ui.type_into(self.find("#lineage-inference-id"), inference_id)
        before = self.url
        self.find("#lineage-submit").click()
        self.ui.wait(lambda: self.url != before and (self.all("#lineage-result") or self.all("#lineage-error")),
                     f"the lineage of {inference_id}")
        return self


class TriggerForm:
    """The *Trigger Dag* dialog. Params are inputs named ``element_<param>`` (labelled with the param's title)."""

    def __init__(self, ui: AirflowUI, dag_id: str, dialog: WebElement):
        self.ui, self.dag_id, self.dialog = ui, dag_id, dialog

    @property
    def text(self) -> str:
        return self.dialog.text

    def field(self, param: str) -> WebElement:
        return self.dialog.find_element(By.NAME, f"element_{param}")

    def params(self) -> list[str]:
        """The form's params, in order."""
        els = self.dialog.find_elements(By.CSS_SELECTOR, "[name^=element_]")
        return list(dict.fromkeys(e.get_attribute("name").removeprefix("element_") for e in els))

    def value(self, param: str) -> str:
        return self.field(param).get_attribute("value")

    def fill(self, **values: str) -> TriggerForm:
        for param, value in values.items():
            self.ui.type_into(self.field(param), value)
        return self

    def set_unpause_on_trigger(self, on: bool) -> TriggerForm:
        """The form's *Unpause <dag> on trigger* box (on by default). Off: the run is created and stays
        queued while the DAG is paused, so a form test does not start the DAG's work."""
        label = self.dialog.find_element(By.XPATH, ".//label[contains(normalize-space(), 'on trigger')]")
        box = label.find_element(By.TAG_NAME, "input")
        if box.is_selected() != on:
            label.click()
            self.ui.wait(lambda: box.is_selected() == on, "the unpause box to change")
        return self

    def trigger_button(self) -> WebElement:
        return self.dialog.find_element(By.CSS_SELECTOR, "[data-testid=trigger-dag-submit]")

    def can_trigger(self) -> bool:
        return self.trigger_button().is_enabled()

    def errors(self) -> list[str]:
        """What the form says is wrong: the server's error box, field error texts, invalid fields."""
        out = []
        for el in self.dialog.find_elements(By.CSS_SELECTOR, "[data-testid=error-alert], [data-part=error-text]"):
            if el.is_displayed() and el.text.strip():
                out.append(el.text.strip())
        for el in self.dialog.find_elements(By.CSS_SELECTOR, "[name^=element_][aria-invalid=true]"):
            out.append(f"invalid: {el.get_attribute('name').removeprefix('element_')}")
        return out

    def press_trigger(self, timeout_s: float = 120) -> Outcome:
        """Press *Trigger*: the run id once the UI opens the new run, or the errors the form shows
        (a disabled button is an error too: the form refuses to submit)."""
        button = self.trigger_button()
        if not button.is_enabled():
            return Outcome(errors=self.errors() or ["the Trigger button is disabled"])
        button.click()
        prefix = f"{self.ui.base_url}/dags/{self.dag_id}/runs/"

        def settled():
            if self.ui.driver.current_url.startswith(prefix):
                return "run"
            return "errors" if self.errors() else None

        how = self.ui.wait(settled, f"{self.dag_id}'s run page or an error in the form", timeout_s)
        if how == "run":
            from urllib.parse import unquote

            run_id = unquote(self.ui.driver.current_url[len(prefix):].split("/")[0])
            return Outcome(run_id=run_id, toasts=self.ui.toasts())
        return Outcome(errors=self.errors(), toasts=self.ui.toasts())


class RequiredAction:
    """A human-in-the-loop task's form: its body, its inputs (``element_<param>``) and one button per option."""

    def __init__(self, ui: AirflowUI, subject: str):
        self.ui, self.subject = ui, subject

    def _buttons(self, option: str) -> list[WebElement]:
        return [b for b in self.ui.driver.find_elements(By.XPATH, f"//button[normalize-space()={_xpath_text(option)}]")
                if b.is_displayed()]

    def offered(self, option: str) -> bool:
        """Whether the page offers ``option`` as a button the user can press."""
        return any(b.is_enabled() for b in self._buttons(option))

    def inputs(self) -> list[str]:
        names = [e.get_attribute("name").removeprefix("element_")
                 for e in self.ui.driver.find_elements(By.CSS_SELECTOR, "[name^=element_]") if e.is_displayed()]
        return list(dict.fromkeys(names))

    def fill(self, **values: str) -> RequiredAction:
        for param, value in values.items():
            self.ui.type_into(self.ui.driver.find_element(By.NAME, f"element_{param}"), value)
        return self

    def answer(self, option: str, timeout_s: float = 120) -> Outcome:
        """Press ``option``'s button; the outcome carries the notification the UI showed (success or failure)."""
        buttons = [b for b in self._buttons(option) if b.is_enabled()]
        assert buttons, f"{option!r} is not offered on {self.ui.driver.current_url}:\n{self.ui.page_text()[:2000]}"
        buttons[0].click()

        def settled():
            toasts = self.ui.toasts()
            return toasts if any(SUCCESS.search(t) or REFUSED.search(t) for t in toasts) else None

        toasts = self.ui.wait(settled, f"the answer {option!r} to be accepted or refused", timeout_s)
        return Outcome(errors=[t for t in toasts if REFUSED.search(t)], toasts=toasts)


# the notifications Airflow's page shows after an answer: "<task> response successful"; "Response failed" with
# the server's reason, or "Access Denied" (HTTP 403: the user is not one the request is assigned to)
SUCCESS = re.compile(r"response successful", re.I)
REFUSED = re.compile(r"failed|denied|permission|forbidden|not allowed|error", re.I)
