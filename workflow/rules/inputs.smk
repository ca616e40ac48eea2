# What each job gets: its spec (JSON, built from the config by tridrop.specs), its input
# paths, and the target lists, for every rule file. Only functions here (snakemake --lint).

# ---------------------------------------------------------------- Data


def split_spec(dataset):
    sections = [*AUTOENCODERS.values(), *HEADS.values()]
    return next(s for s in sections if s["dataset"] == dataset)


def local_copy(s):
    """The dataset's files come from `path:` (source local, or auto with a copy there)."""
    from tridrop.data import uses_local

    return uses_local(s["dataset"], s.get("source", "download"), s.get("path"))


def raw_files(w):
    """The raw files a split is built from: none (digits), the user's files (a local copy,
    so an edit of a file in place reruns) or the download rule's folder."""
    s = split_spec(w.dataset)
    if s["dataset"] == "digits":
        return []
    if local_copy(s):
        from tridrop.data import raw_files as local_files

        return local_files(s["dataset"], s["path"])
    return [out(f"data/raw/{w.dataset}")]


def raw_option(w):
    s = split_spec(w.dataset)
    if s["dataset"] == "digits":
        return ""
    return option("--raw", s["path"] if local_copy(s) else out(f"data/raw/{w.dataset}"))


def data_spec(w):
    return specs.dump(specs.pick(specs.SplitSpec, split_spec(w.dataset)))


# ---------------------------------------------------------------- Autoencoders


def ae(w):
    return AUTOENCODERS[w.experiment]


def stored_split(section):
    """The stored split of an experiment's dataset (the output of prepare_data)."""
    return rules.prepare_data.output[0].format(dataset=section["dataset"])


def ae_data(w):
    return stored_split(ae(w))


def ae_train_spec(w):
    settings = specs.variant(ae(w), w.variant, "latent")
    model = specs.pick(specs.AutoencoderModel, ae(w), settings)
    objective = specs.pick(specs.Objective, settings)
    train = train_spec(ae(w), w.seed, settings)  # a variant may train longer (epochs)
    return specs.dump(specs.AutoencoderTrain(model, train, objective))


def ae_pcaae_spec(w):
    s = ae(w)
    model = specs.pick(specs.AutoencoderModel, s, mode="none")
    train = train_spec(s, w.seed, {"epochs": s.get("pcaae_epochs", s["epochs"])})
    return specs.dump(specs.PCAAETrain(w.experiment, model, train, s["pcaae_widths"]))


def pcaae_runs(experiment, path):
    """File `path` of every PCAAE seed, when the experiment asks for PCAAE."""
    s = AUTOENCODERS[experiment]
    return (
        expand(path, experiment=experiment, seed=s["seeds"])
        if "pcaae_widths" in s
        else []
    )


def ae_gap_runs(experiment):
    """(model name, metadata file) of every run that serves every width, and the references."""
    s = AUTOENCODERS[experiment]
    pairs = [
        (
            specs.rows_name(v),
            rules.ae_train.output.meta.format(experiment=experiment, variant=v, seed=x),
        )
        for v in variants(s)
        for x in s["seeds"]
    ]
    return pairs + [
        ("pcaae", p) for p in pcaae_runs(experiment, rules.ae_pcaae.output.meta)
    ]


def ae_gap_meta(w):
    return [p for _, p in ae_gap_runs(w.experiment)]


def ae_gap_spec(w):
    models = tuple(m for m, _ in ae_gap_runs(w.experiment))
    return specs.dump(specs.Gap(w.experiment, models=models))


def ae_sweep_spec(w):
    return specs.dump(
        specs.pick(
            specs.AutoencoderSweep,
            ae(w),
            rows=rows(w),
            width=ae(w)["latent"],
            device=config["device"],
        )
    )


def ae_analysis_spec(w):
    return specs.dump(
        specs.pick(
            specs.AutoencoderAnalysis, ae(w), rows=rows(w), device=config["device"]
        )
    )


def ae_baselines_spec(w):
    return specs.dump(specs.AutoencoderBaselines(w.experiment, ae(w)["latent"]))


def ae_claims_spec(w):
    return specs.dump(
        specs.pick(
            specs.AutoencoderClaims, ae(w).get("claims", {}), experiment=w.experiment
        )
    )


def ae_analyses(w, name):
    """Per-run importance or dependence files of the configured variants."""
    return expand(
        rules.ae_analyse.output[name],
        experiment=w.experiment,
        variant=ae(w)["variants"],
        seed=ae(w)["seeds"],
    )


def ae_sweeps(experiment):
    section = AUTOENCODERS[experiment]
    found = runs(section, experiment, rules.ae_sweep.output.sweep)
    if section.get("pca", False):
        found += expand(rules.ae_baselines.output, experiment=experiment)
    return found + pcaae_runs(experiment, rules.ae_pcaae.output.sweep)


# ---------------------------------------------------------------- Classifier heads


def head(w):
    return HEADS[w.experiment]


def imagenet_copy(w):
    """Stop before any job when the ImageNet copy is missing: only targets that need it."""
    from tridrop.imagenet import ImageNetMissing, check

    s = specs.pick(specs.ImageNetSpec, head(w)["imagenet"])
    try:
        check(s.root, s.layout, s.max_classes)
    except ImageNetMissing as err:
        key = f"presets.{PRESET}.heads.{w.experiment}.imagenet.root"
        raise ValueError(f"config: {key}: {err}") from None
    return []


def imagenet_spec(w):
    return specs.dump(specs.pick(specs.ImageNetSpec, head(w)["imagenet"]))


def cache_spec(w):
    s = head(w)
    imagenet = s.get("imagenet") and specs.pick(specs.ImageNetSpec, s["imagenet"])
    return specs.dump(
        specs.FeatureCacheSpec(
            s["dataset"], w.split, imagenet or None, config["device"]
        )
    )


def head_data(w):
    return stored_split(head(w))


def backbone_model(w):
    return rules.head_backbone.output.model.format(experiment=w.experiment)


def backbone_spec(w):
    s = head(w)["backbone"]
    model = specs.pick(specs.BackboneModel, s, hidden=head(w)["hidden"])
    return specs.dump(specs.BackboneTrain(model, train_spec(s, s.get("seed", 0))))


def cache_input(w):
    """ImageNet: its checked manifest; else the stored split (and a trained backbone)."""
    if head(w)["dataset"] == "imagenet":
        manifest = rules.head_check.output[0].format(experiment=w.experiment)
        return {"manifest": manifest, "code": code("head:cache")}
    found = {"data": head_data(w), "code": code("head:cache")}
    if "backbone" in head(w):
        found["backbone"] = backbone_model(w)
    return found


def pretrained_input(w):
    if head(w)["reference"] == "backbone":
        return {"backbone": backbone_model(w), "code": code("head:pretrained")}
    manifest = rules.head_check.output[0].format(experiment=w.experiment)
    return {"manifest": manifest, "code": code("head:pretrained")}


def pretrained_spec(w):
    s = head(w).get("imagenet", {})
    return specs.dump(
        specs.pick(
            specs.PretrainedHead,
            s,
            classes=s.get("max_classes") or 1000,
            hidden=head(w)["hidden"],
        )
    )


def head_model(w):
    return specs.pick(
        specs.HeadModel, head(w), specs.variant(head(w), w.variant, "hidden")
    )


def head_train_spec(w):
    return specs.dump(specs.HeadTrain(head_model(w), train_spec(head(w), w.seed)))


def reference(experiment):
    """The unconstrained head: VGG19's own (pretrained), the head of the backbone trained here
    (backbone), or one trained without TD on the cache (train, seeded)."""
    s = HEADS[experiment]
    if s["reference"] in ("pretrained", "backbone"):
        return rules.head_pretrained.output.model.format(experiment=experiment)
    path = rules.head_train.output.model
    return path.format(experiment=experiment, variant="notd", seed=s["reference_seed"])


def head_init(w):
    return reference(w.experiment) if head_model(w).init == "reference" else []


def head_sweep_spec(w):
    s = head(w)
    return specs.dump(
        specs.HeadSweep(rows(w), s["hidden"], tuple(s["widths"]), config["device"])
    )


def head_baselines_spec(w):
    return specs.dump(
        specs.pick(
            specs.HeadBaselines,
            head(w),
            experiment=w.experiment,
            device=config["device"],
        )
    )


def head_params(w):
    """Parameter counts of every run and of the baselines (the accuracy table's x axis)."""
    return [
        *runs(head(w), w.experiment, rules.head_sweep.output.params),
        rules.head_baselines.output.params.format(experiment=w.experiment),
    ]


def head_sweeps(experiment):
    return [
        *runs(HEADS[experiment], experiment, rules.head_sweep.output.sweep),
        rules.head_baselines.output.sweep.format(experiment=experiment),
    ]


def head_claims_spec(w):
    return specs.dump(specs.pick(specs.HeadClaims, head(w)["claims"]))


def cache_threads(w):
    return workflow.cores if head(w)["dataset"] == "imagenet" else 1


def cache_gpus(w):
    return 1 if USE_GPU and head(w)["dataset"] == "imagenet" else 0


def processes(w):
    return head(w)["processes"]


def train_gpus(w):
    return processes(w) if USE_GPU else 0


def reference_of(w):
    return reference(w.experiment)


def table_spec(w):
    return specs.dump(specs.Experiment(w.experiment))


def head_launcher(w):
    """Several processes: data-parallel training (DDP) launched by torchrun."""
    n = head(w)["processes"]
    return f"torchrun --standalone --nproc-per-node {n} --no-python " if n > 1 else ""


# ---------------------------------------------------------------- Results across families


def experiment_sweeps(w):
    if w.experiment in HEADS:
        return head_sweeps(w.experiment)
    return ae_sweeps(w.experiment)


def plot_files():
    """Mean-by-width files per experiment and metric (autoencoders: mse; heads: top1, top5)."""
    pairs = [(e, "mse") for e in AUTOENCODERS]
    pairs += [(e, m) for e in HEADS for m in ("top1", "top5")]
    return [plot_template(None).format(experiment=e, metric=m) for e, m in pairs]


def plot_template(w):
    """The plot files' path (`dvc plots show` reads the folder); the job fills it in."""
    return out("plots/{experiment}_{metric}.csv")


def aggregate_spec(w):
    widths = {x for s in AUTOENCODERS.values() for x in s["headline_widths"]}
    return specs.dump(specs.Aggregate(tuple(sorted(widths))))


def environment_spec(w):
    return specs.dump(specs.Environment(config["device"], config))


# ---------------------------------------------------------------- Figures


def recon_title(w):
    seed = AUTOENCODERS[w.experiment]["seeds"][0]
    title = (
        f"{w.experiment}: {w.variant} (seed {seed}),"
        " test images reconstructed from the first w latent units"
    )
    return specs.dump(specs.ReconstructionsFigure(title))


def first_seed_recon(w):
    seed = AUTOENCODERS[w.experiment]["seeds"][0]
    return rules.ae_sweep.output.recon.format(
        experiment=w.experiment, variant=w.variant, seed=seed
    )


def sweep_figure_spec(w):
    return specs.dump(specs.SweepFigure(w.experiment))


def gap_figure_spec(w):
    return specs.dump(specs.GapFigure(w.experiment))


def gap_experiments():
    """Experiments with the references the gap is measured against: an unconstrained
    variant (notd) and autoencoders trained at fixed widths."""
    return [
        e
        for e, s in AUTOENCODERS.items()
        if "notd" in s["variants"] and s.get("fixed_widths")
    ]


def feature_figure_code(w):
    return code(f"plot:{w.kind}")


# ---------------------------------------------------------------- Targets of `rule all`, `autoencoders` and `heads`


def autoencoder_targets():
    e = list(AUTOENCODERS)
    recon = [
        rules.plot_reconstructions.output.png.format(experiment=x, variant=v)
        for x in e
        for v in AUTOENCODERS[x]["variants"]
    ]
    return [
        *expand(rules.plot_sweep.output.png, experiment=e),
        *expand(
            rules.plot_features.output.png,
            experiment=e,
            kind=["importance", "dependence"],
        ),
        *recon,
        *expand(rules.ae_claims.output, experiment=e),
        *expand(rules.ae_gap.output, experiment=gap_experiments()),
        *expand(rules.plot_gap.output.png, experiment=gap_experiments()),
    ]


def head_targets():
    return [
        *expand(rules.head_table.output, experiment=list(HEADS)),
        *expand(rules.plot_accuracy.output.png, experiment=list(HEADS)),
        *expand(rules.head_claims.output, experiment=list(HEADS)),
    ]
