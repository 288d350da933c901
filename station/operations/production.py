"""What the station produces with: the recipes, the factory CA that signs for them, the token vault.

A station has one recipe, and a slot may have its own (``SlotSettings.recipe``): a line whose
slots hold different products or chip families. The CA signs for every recipe in use, each
with its own credential settings; ``provisioner(slot)`` is the sequence for that slot's recipe.

A unit can start only when all three are ready (and a slot is set up, and recovery after a
restart has finished): ``readiness_problems`` says what is missing, as errors of the domain's
tree, for the front end to put in words. Choosing a recipe records its exact text under its
hash; opening the CA builds the provisioner for that recipe; a vault unlocked by a supervisor
serves the shift. The slow parts (decrypting the CA key, deriving the vault key) block: the
window runs them off its event loop. Every change is audited under the actor who made it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from station.config.paths import StationPaths
from station.domain.errors import (
    CaError,
    NoProbeError,
    NoRecipeError,
    RecoveryRunningError,
    ScanError,
    StationError,
    VaultError,
)
from station.domain.identity import Serial
from station.domain.recipe import Recipe
from station.domain.scan import parse_scan
from station.flow.ports import AttemptOwnership, AuditTrail, DevelopmentUnitRegistry, Journal, SerialPool
from station.flow.sequence import UnitProvisioner
from station.flow.watchdog import Watchdog
from station.operations.custody import KeyCustody
from station.operations.line_link import AnyRegistry, LineLink
from station.operations.recipe_signing import RecipeTrust, with_signature
from station.operations.recipes import check_recipe
from station.operations.slots import SlotFilter
from station.security.ca import ca_paths, init_ca, load_ca
from station.security.certificates import CertificateAuthority
from station.security.issuer import FactoryCredentialIssuer
from station.security.vault import ImportSummary, TokenVault, UnlockedVault
from station.store import Database


class Production:
    """The recipe, the CA and the vault of one station, shared by all its slots."""

    def __init__(
        self,
        database: Database,
        journal: Journal,
        paths: StationPaths,
        audit: AuditTrail,
        *,
        development_registry: DevelopmentUnitRegistry | None,
        ownership: AttemptOwnership | None,
        watchdog: Watchdog,
        custody: KeyCustody | None = None,
    ) -> None:
        self._database = database
        # Where the CA key and the vault's secret live; None: files and passphrases (tests' stations).
        self.custody = custody
        # The line database's link, when the station forwards to one: its policy may stop scans.
        self.line_link: LineLink | None = None
        # Serials from work orders' rules, for units without a label (None: labelled units only).
        self.serial_pool: SerialPool | None = None
        self._journal = journal
        self._paths = paths
        self._audit = audit
        self._development_registry = development_registry
        self._ownership = ownership
        self._watchdog = watchdog
        self._lock = threading.Lock()
        self.recipe: Recipe | None = None
        self.recipe_problem: str | None = None
        self.recipe_refusal: StationError | None = None  # why the configured recipe was refused, as raised
        self._slot_recipes: dict[str, Recipe] = {}
        self._slot_problems: dict[str, str] = {}
        self._bases: dict[str, UnitProvisioner] = {}  # by recipe content hash, once the CA is open
        self.vault: UnlockedVault | None = None

    # ---- state --------------------------------------------------------------------------------

    @property
    def ca_open(self) -> bool:
        recipes = self.recipes_in_use()
        return bool(recipes) and all(recipe.content_hash in self._bases for recipe in recipes)

    def recipe_for(self, slot: str | None) -> Recipe | None:
        """The recipe a slot runs: its own, else the station's."""
        if slot is not None and slot in self._slot_recipes:
            return self._slot_recipes[slot]
        return self.recipe

    def recipes_in_use(self) -> list[Recipe]:
        """Every recipe a slot may run, the station's first, each once."""
        found: dict[str, Recipe] = {}
        for recipe in (self.recipe, *self._slot_recipes.values()):
            if recipe is not None:
                found.setdefault(recipe.content_hash, recipe)
        return list(found.values())

    def parse_unit_label(self, text: str, slot: str | None = None) -> Serial:
        """The unit serial a scan holds, by the slot's recipe (by any recipe in use when no slot
        is named); ScanError (the first recipe's words) when none reads it."""
        recipes = [self.recipe_for(slot)] if slot is not None else self.recipes_in_use()
        refusal: ScanError | None = None
        for recipe in recipes:
            if recipe is None:
                continue
            try:
                return parse_scan(text, recipe.serial_rule)
            except ScanError as error:
                refusal = refusal or error
        if refusal is None:
            raise NoRecipeError(self.recipe_problem or "no recipe is chosen")
        raise refusal

    def slot_takes(self, slot: str, text: str) -> bool:
        """Whether the slot's recipe reads this scan as one of its units' labels."""
        recipe = self.recipe_for(slot)
        if recipe is None:
            return False
        try:
            parse_scan(text, recipe.serial_rule)
        except ScanError:
            return False
        return True

    def product_slots(self, slots: Sequence[str]) -> list[SlotFilter]:
        """One filter per recipe in use: the slots (of ``slots``) that run it. A line of one
        product has one; the operator view marks each product's next slot."""
        recipes = {slot: self.recipe_for(slot) for slot in slots}
        filters: list[SlotFilter] = []
        for recipe in self.recipes_in_use():
            makers = frozenset(slot for slot, runs in recipes.items()
                               if runs is not None and runs.content_hash == recipe.content_hash)  # fmt: skip
            filters.append(makers.__contains__)
        return filters

    @property
    def mixed(self) -> bool:
        """Whether slots run different recipes (a tile then says which product it makes)."""
        return len(self.recipes_in_use()) > 1

    def readiness_problems(self, *, slot_count: int, recovering: bool) -> list[StationError]:
        """Everything that keeps the station from starting a unit, most important first."""
        problems: list[StationError] = []
        if self.recipe is None and not self._slot_recipes:
            problems.append(NoRecipeError("no recipe is chosen"))
        elif not self.ca_open:
            problems.append(CaError("the factory CA is not open"))
        for slot, problem in self._slot_problems.items():
            problems.append(NoRecipeError(f"slot {slot}'s recipe was refused: {problem}"))
        if self.vault is None:
            problems.append(VaultError("the token vault is locked: a supervisor must unlock it for the shift"))
        if slot_count == 0:
            problems.append(NoProbeError("no slot is set up"))
        if recovering:
            problems.append(RecoveryRunningError("the station is checking unfinished units"))
        refusal = None if self.line_link is None else self.line_link.refusal()
        if refusal is not None:
            problems.append(refusal)
        return problems

    def provisioner(self, slot: str | None = None) -> UnitProvisioner:
        """The sequence for the slot's recipe (the station's when None) and the CA, with the
        vault as it is now."""
        recipe = self.recipe_for(slot)
        if recipe is None:
            raise NoRecipeError(self.recipe_problem or "no recipe is chosen")
        base = self._bases.get(recipe.content_hash)
        if base is None:
            raise CaError("the factory CA is not open for this recipe")
        return UnitProvisioner(
            base.recipe,
            base.journal,
            base.issuer,
            self.vault,
            development_registry=self._development_registry,
            ownership=self._ownership,
            watchdog=self._watchdog,
            line_claims=self.line_link,
            serial_pool=self.serial_pool,
        )

    # ---- the recipe -----------------------------------------------------------------------------

    def load_recipe(self, path: Path) -> Recipe:
        """Check a recipe (images against their pinned hashes, credentials, its signature: in
        production only a signed, approved one) and record its exact text with its signature."""
        recipe = check_recipe(path).recipe
        signature = RecipeTrust(self._database).admit(recipe, production=self.signed_recipes_only).record()
        self._database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash,
                                              signature=signature)  # fmt: skip
        return recipe

    @property
    def signed_recipes_only(self) -> bool:
        """A station in production (``[custody] mode``) runs only signed, approved recipes."""
        return self.custody is not None and self.custody.settings.production

    def check_recipe_file(self, path: Path) -> str:
        """What the engineer reads before choosing a recipe: the check, and its signature as this
        station sees it (refused as loading it would refuse it); records nothing."""
        checked = check_recipe(path)
        return with_signature(checked, RecipeTrust(self._database).admit(checked.recipe,
                                                                         production=self.signed_recipes_only))

    def use_recipe(self, path: Path, actor: str | None) -> Recipe:
        """Make ``path`` the station's recipe; the CA must be opened again for it. A person's
        choice (``actor``) is audited; the settings' recipe at start is not a choice."""
        recipe = self.load_recipe(path)
        with self._lock:
            self.recipe, self.recipe_problem, self._bases = recipe, None, {}
        if actor is not None:
            self._audit.append_audit(actor, "recipe.select", f"recipe {path} sha256 {recipe.content_hash}")
        return recipe

    def refuse_recipe(self, problem: str, error: StationError | None = None) -> None:
        """The configured recipe did not load: no recipe, and the reason for the engineer."""
        with self._lock:
            self.recipe, self.recipe_problem, self._bases = None, problem, {}
            self.recipe_refusal = error

    def use_slot_recipes(self, slot_recipes: dict[str, Path]) -> None:
        """The slots' own recipes (slot name -> recipe file), each checked and recorded like the
        station's; a refused one leaves its slot unable to start a unit, with the reason. The
        CA must be opened again for them."""
        loaded: dict[str, Recipe] = {}
        problems: dict[str, str] = {}
        for slot, path in slot_recipes.items():
            try:
                loaded[slot] = self.load_recipe(path)
            except StationError as error:
                problems[slot] = str(error)
        with self._lock:
            self._slot_recipes, self._slot_problems, self._bases = loaded, problems, {}

    def set_work_order(self, code: str | None) -> None:
        if code:
            recipes = self.recipes_in_use()
            product = recipes[0].product if len({recipe.product for recipe in recipes}) == 1 else None
            self._database.registry.upsert_work_order(code, product=product)

    # ---- the factory CA ---------------------------------------------------------------------------

    def ca_exists(self) -> bool:
        return ca_paths(self._paths.ca_dir)[0].exists()

    def open_ca(self, passphrase: Secret, actor: str) -> bool:
        """Open the CA for every recipe in use (slow: the key is decrypted); False when the
        recipes changed meanwhile and this CA session belongs to the old ones."""
        recipes = self.recipes_in_use()
        if not recipes:
            raise NoRecipeError("choose a recipe first")
        if self.custody is None:
            ca: CertificateAuthority = load_ca(self._paths.ca_dir, _given(passphrase))
        else:  # a token CA asks for the token's PIN instead, and never falls back to a key file
            ca = self.custody.open_ca(lambda: _given(passphrase))
        bases = {recipe.content_hash: self._base_for(recipe, FactoryCredentialIssuer(ca, recipe.credentials))
                 for recipe in recipes}  # fmt: skip
        with self._lock:
            if [recipe.content_hash for recipe in self.recipes_in_use()] != list(bases):
                return False
            self._bases = bases
        described = ", ".join(f"{recipe.content_hash[:16]} ({recipe.product})" for recipe in recipes)
        self._audit.append_audit(actor, "ca.load", f"factory CA opened for recipe {described}")
        return True

    def _base_for(self, recipe: Recipe, issuer: FactoryCredentialIssuer) -> UnitProvisioner:
        return UnitProvisioner(
            recipe, self._journal, issuer, None,
            development_registry=self._development_registry, ownership=self._ownership, watchdog=self._watchdog,
            line_claims=self.line_link,
        )  # fmt: skip

    def create_ca(self, common_name: str, passphrase: str, actor: str) -> None:
        init_ca(self._paths.ca_dir, passphrase, common_name)
        self._audit.append_audit(actor, "ca.init", f"factory CA {common_name!r} created in {self._paths.ca_dir}")

    def use_line(self, link: LineLink) -> None:
        """Work on a line database: its claims on serials, its development units, its policy."""
        self.line_link = link
        registries = [registry for registry in (self._development_registry, link) if registry is not None]
        self._development_registry = AnyRegistry(*registries)

    def ca_in_token(self) -> bool:
        """The CA key lives in a token: opening it asks for the token's PIN, not a passphrase."""
        return self.custody is not None and self.custody.ca_in_token()

    def vault_in_token(self) -> bool:
        """The vault opens with the token (its wrapped data key), not with a passphrase."""
        return self.custody is not None and self.custody.vault_in_token

    def _vault_secret(self, passphrase: Secret) -> str:
        if self.custody is None:
            return _given(passphrase)
        return self.custody.vault_secret(lambda: _given(passphrase))

    # ---- the token vault ----------------------------------------------------------------------------

    def unlock_vault(self, passphrase: Secret, actor: str) -> None:
        try:
            vault = TokenVault(self._database.tokens).unlocked(self._vault_secret(passphrase))
        except StationError as error:
            self._audit.append_audit(actor, "vault.unlock-refused", f"[{error.code}] {error}")
            raise
        self.vault = vault
        self._audit.append_audit(actor, "vault.unlock", "token vault unlocked for the shift")

    def lock_vault(self, actor: str) -> None:
        self.vault = None
        self._audit.append_audit(actor, "vault.lock", "token vault locked")

    def vault_initialized(self) -> bool:
        """Whether the vault has its passphrase yet (the first import sets it)."""
        return TokenVault(self._database.tokens).is_initialized

    def import_tokens(
        self, lines: list[str], product: str, use_limit: int | None, passphrase: Secret, actor: str
    ) -> ImportSummary:
        """Seal tokens (one per line of a token file) into the vault; their text is never kept or shown."""
        secret = self._vault_secret(passphrase)
        summary = TokenVault(self._database.tokens).import_tokens(secret, product, lines, use_limit)
        limit = f", use limit {use_limit}" if use_limit else ""
        self._audit.append_audit(
            actor, "tokens.import",
            f"{summary.product}: {summary.added} new token(s), {summary.duplicates} duplicate(s){limit}",
        )  # fmt: skip
        return summary


# A passphrase, or how to ask for one: asked only when the key it opens is not in a token.
Secret = str | Callable[[], str]


def _given(secret: Secret) -> str:
    return secret if isinstance(secret, str) else secret()


def read_token_file(path: Path) -> list[str]:
    """The lines of a token file; VaultError naming the file (never its content) when unreadable."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise VaultError(f"token file {path} does not exist") from None
    except UnicodeDecodeError:
        raise VaultError(f"token file {path} is not UTF-8 text; nothing was imported") from None
    except OSError as error:
        raise VaultError(f"cannot read token file {path}: {error.strerror or error}") from None
