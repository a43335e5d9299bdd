# The pipeline: real file dependencies, so an interrupted run resumes where it stopped, a changed
# config or binary re-runs only what depends on it, and `make -j2` runs subjects in parallel.
#
#   make                                  the default simulated study (configs/default.yaml)
#   make CONFIG=configs/haxby2001.yaml    the real Haxby data in ../shared/data
#   make CONFIG=configs/my.yaml           a study of yours (section `study:`), outputs in work/my/
#
# Outputs under work/<study>/:
#   plan.mk                          the study as make variables (v2c-plan)
#   bids/                            the simulated BIDS study (v2c-simulate; simulated studies only)
#   sub-XX/samples.h5                one subject's samples (v2c-prepare)
#   sub-XX/ridge-fF.h5               ridge decoding on a share F of the training runs (v2c-ridge)
#   sub-XX/pretrained.h5             the shared encoder pretrained on every other subject, without the
#                                    stimuli sub-XX's folds test (v2c-pretrain; leave-one-subject-out)
#   sub-XX/encoder-MODE-fF.h5        that encoder fine-tuned on sub-XX on ridge's folds (v2c-finetune)
#   sub-XX/pretrained-linear.h5      baseline: the same pretraining with no hidden blocks (pretrain.n_blocks=0)
#   sub-XX/encoder-linear-fF.h5      that shared linear encoder fine-tuned like encoder-adapter
#   sub-XX/encoder-scratch-fF.h5     baseline: the encoder trained on sub-XX alone, no pretraining
#   sub-XX/align-ridge-fF.h5         baseline: the others hyperaligned into sub-XX's space, pooled ridge
#                                    (v2c-align)
#   sub-XX/pretrained-ssl*.h5        study.self_supervised: the same, its CLIP stage started by a
#                                    self-supervised one on the other subjects' time series
#   sub-XX/encoder-ssl-*-fF.h5       those fine-tuned at the fractions study.self_supervised_fractions
#   sub-XX/*.retrieval.h5            retrieval metrics of each predictions file (v2c-retrieve)
#   report/index.html, results.csv   ridge vs the encoder (v2c-report)
#
# On a cluster every stage command can go through a launcher (the outputs' folder must be on a file
# system every node sees; make itself runs where it is started):
#   LAUNCH      prefix of every stage command, e.g. LAUNCH='srun -n1 -c8' (Slurm: one task of 8 cores)
#   MPI_LAUNCH  prefix of v2c-pretrain instead of LAUNCH, e.g. MPI_LAUNCH='srun -n4 -c8' or
#               MPI_LAUNCH='mpirun -np 4': data-parallel pretraining (empty: LAUNCH, one process)
#   SEED        --seed of every stage (empty: each stage's default), e.g. make validate's seeds
#   make -j64 LAUNCH='srun -n1 -c8' MPI_LAUNCH='srun -n4 -c8' THREADS=8

CONFIG  ?= configs/default.yaml
STUDY   ?= $(basename $(notdir $(CONFIG)))
WORK    ?= work/$(STUDY)
THREADS ?= 0
BIDS    := $(WORK)/bids
PLAN    := $(WORK)/plan.mk
V2C     := $(BUILD)/bin
STAGE_FLAGS := --config $(CONFIG) --threads $(THREADS) --force $(if $(SEED),--seed $(SEED))
LAUNCH  ?=
MPI_LAUNCH ?=
PRETRAIN_LAUNCH = $(if $(strip $(MPI_LAUNCH)),$(MPI_LAUNCH),$(LAUNCH))
# Stages that exist in this checkout (later stages are added to the pipeline as they land).
HAVE = $(wildcard stages/$(1).cpp)

.PHONY: all run pipeline
all: setup
	@$(BUILD_MAKE) build
	@$(MAKE) --no-print-directory run

# Phase 1 writes the plan; phase 2 reads it (subjects, fractions, prepare arguments).
run: $(V2C)/v2c-plan
	@mkdir -p $(WORK)
	@$(LAUNCH) $(V2C)/v2c-plan --config $(CONFIG) --bids-dir $(BIDS) --out $(PLAN).new --force --quiet
	@cmp -s $(PLAN).new $(PLAN) && rm -f $(PLAN).new || mv $(PLAN).new $(PLAN)
	@$(MAKE) --no-print-directory pipeline V2C_PIPELINE=1
	@if [ -f $(WORK)/report/index.html ]; then echo "vox2clip: report: $(abspath $(WORK))/report/index.html"; \
	 else echo "vox2clip: study '$(STUDY)' done in $(WORK)/"; fi

ifeq ($(V2C_PIPELINE),1)
include $(PLAN)
.SECONDEXPANSION:

SAMPLES := $(foreach s,$(SUBJECTS),$(WORK)/$(s)/samples.h5)
RIDGE   := $(foreach s,$(SUBJECTS),$(foreach f,$(FRACTIONS),$(WORK)/$(s)/ridge-f$(f).h5))
# Leave-one-subject-out: each held-out subject's encoders are pretrained on PRETRAIN_FOR_<subject>
# (all the others) without the stimuli its folds test; a study of one subject has no pretraining.
ENCODER_SUBJECTS := $(if $(strip $(HELDOUT)),$(HELDOUT),$(SUBJECTS))
PRETRAINED_ON = $(strip $(PRETRAIN_FOR_$(1)))
# Every subject gets the from-scratch encoder; subjects with a pretraining the pretrained ones.
PRETRAINED_MODELS := encoder-adapter encoder-full encoder-linear
# study.self_supervised: a second encoder, its CLIP stage started by a self-supervised one, at the
# fractions SSL_FRACTIONS (study.self_supervised_fractions)
SSL_MODELS_OF = $(if $(and $(SELF_SUPERVISED),$(call PRETRAINED_ON,$(1))),\
  encoder-ssl-adapter encoder-ssl-full encoder-ssl-only-full)
MODELS_OF = encoder-scratch $(if $(call PRETRAINED_ON,$(1)),$(PRETRAINED_MODELS))
FINETUNED := $(if $(call HAVE,finetune),$(foreach s,$(ENCODER_SUBJECTS),\
               $(foreach m,$(call MODELS_OF,$(s)),$(foreach f,$(FRACTIONS),$(WORK)/$(s)/$(m)-f$(f).h5)) \
               $(foreach m,$(call SSL_MODELS_OF,$(s)),$(foreach f,$(SSL_FRACTIONS),$(WORK)/$(s)/$(m)-f$(f).h5))))
ALIGNED := $(if $(call HAVE,align),$(foreach s,$(ENCODER_SUBJECTS),$(if $(call PRETRAINED_ON,$(s)),\
             $(foreach f,$(FRACTIONS),$(WORK)/$(s)/align-ridge-f$(f).h5))))
PREDICTIONS := $(RIDGE) $(FINETUNED) $(ALIGNED)
RETRIEVAL := $(if $(call HAVE,retrieve),$(PREDICTIONS:.h5=.retrieval.h5))
REPORT := $(if $(call HAVE,report),$(WORK)/report/index.html)

# simulate.unlabelled_subjects: subjects with rest runs only, whose time series join every
# self-supervised stage (never held out, never evaluated)
UNLABELLED_SERIES := $(if $(SELF_SUPERVISED),$(foreach s,$(UNLABELLED),$(WORK)/$(s)/timeseries.h5))

pipeline: $(SAMPLES) $(UNLABELLED_SERIES) $(PREDICTIONS) $(RETRIEVAL) $(REPORT)
# The checkpoints and time series are results too: kept, not deleted as intermediate files.
CHECKPOINTS_OF = $(if $(call PRETRAINED_ON,$(1)),pretrained pretrained-linear \
  $(if $(SELF_SUPERVISED),pretrained-ssl pretrained-ssl-only))
.SECONDARY: $(foreach s,$(ENCODER_SUBJECTS),$(foreach c,$(call CHECKPOINTS_OF,$(s)),$(WORK)/$(s)/$(c).h5)) \
  $(if $(SELF_SUPERVISED),$(foreach s,$(SUBJECTS),$(WORK)/$(s)/timeseries.h5))

ifeq ($(STUDY_SOURCE),simulate)
SIM_STAMP := $(BIDS)/dataset_description.json
$(SIM_STAMP): $(CONFIG) $(V2C)/v2c-simulate
	$(LAUNCH) $(V2C)/v2c-simulate $(STAGE_FLAGS) --out $(BIDS)
endif

$(WORK)/%/samples.h5: $(SIM_STAMP) $(PLAN) $(V2C)/v2c-prepare
	$(LAUNCH) $(V2C)/v2c-prepare $(STAGE_FLAGS) $(PREPARE_ARGS_$*) \
	  $(if $(SELF_SUPERVISED),--timeseries $(WORK)/$*/timeseries.h5) --out $@
# written beside the samples by the same v2c-prepare call
$(WORK)/%/timeseries.h5: $(WORK)/%/samples.h5 ;

define ridge_rule
$(WORK)/%/ridge-f$(1).h5: $(WORK)/%/samples.h5 $(CONFIG) $(V2C)/v2c-ridge
	$(LAUNCH) $(V2C)/v2c-ridge $(STAGE_FLAGS) --samples $$< --set ridge.train_fraction=$(1) --out $$@
endef
$(foreach f,$(FRACTIONS),$(eval $(call ridge_rule,$(f))))

# The held-out subject's test rows (any fraction's ridge output: they do not depend on it) name the
# stimuli its pretraining leaves out.
HELDOUT_FOLDS := ridge-f$(lastword $(FRACTIONS)).h5
OTHERS_SAMPLES = $(foreach s,$(PRETRAIN_FOR_$(1)),$(WORK)/$(s)/samples.h5)
HELDOUT_ARGS = --heldout-samples $(WORK)/$(1)/samples.h5 --heldout-folds $(WORK)/$(1)/$(HELDOUT_FOLDS)
# POOLED_FLAGS (v2c-plan, from study.control): --shuffle-pooled-labels, the negative control, on every
# stage that pools other subjects (pretraining, the pretrained rows' fine-tuning references, v2c-align).
# $(1): checkpoint name, $(2): extra overrides (the linear baseline: no hidden blocks)
define pretrain_rule
$(WORK)/%/$(1): $(WORK)/%/samples.h5 $(WORK)/%/$(HELDOUT_FOLDS) $$$$(call OTHERS_SAMPLES,$$$$*) \
                $(CONFIG) $(V2C)/v2c-pretrain
	$(PRETRAIN_LAUNCH) $(V2C)/v2c-pretrain $(STAGE_FLAGS) --samples $$(call OTHERS_SAMPLES,$$*) \
	  $$(call HELDOUT_ARGS,$$*) $(2) $(POOLED_FLAGS) --out $$@
endef
$(eval $(call pretrain_rule,pretrained.h5,))
$(eval $(call pretrain_rule,pretrained-linear.h5,--set pretrain.n_blocks=0))

# The self-supervised stage sees the other subjects' time series only, without the runs that show a
# stimulus the held-out subject is tested on (v2c-pretrain leaves them out), and the unlabelled subjects'.
$(WORK)/%/pretrained-ssl.h5: $(WORK)/%/samples.h5 $(WORK)/%/$(HELDOUT_FOLDS) $$(call OTHERS_SAMPLES,$$*) \
                             $$(foreach s,$$(PRETRAIN_FOR_$$*),$(WORK)/$$(s)/timeseries.h5) $(UNLABELLED_SERIES) \
                             $(CONFIG) $(V2C)/v2c-pretrain
	$(PRETRAIN_LAUNCH) $(V2C)/v2c-pretrain $(STAGE_FLAGS) --samples $(call OTHERS_SAMPLES,$*) $(call HELDOUT_ARGS,$*) \
	  --timeseries $(foreach s,$(PRETRAIN_FOR_$*),$(WORK)/$(s)/timeseries.h5) $(UNLABELLED_SERIES) \
	  --ssl-out $(WORK)/$*/pretrained-ssl-only.h5 $(POOLED_FLAGS) --out $@
# the same call's self-supervised stage alone (untrained backbone): fine-tuned in full mode only
$(WORK)/%/pretrained-ssl-only.h5: $(WORK)/%/pretrained-ssl.h5 ;

# The one fold definition: the training rows of ridge at the same fraction (ridge-fF.h5).
# $(1): fraction, $(2): finetune.mode, $(3): model (and file) name, $(4): the held-out subject's checkpoint,
# $(5): non-empty for the self-supervised models: the held-out subject's adapter first fitted
# self-supervised on its own time series (finetune.adapter_init ssl: each fold's training and rest
# runs, never its test runs)
SSL_FINETUNE_ARGS = --timeseries $(WORK)/$(1)/timeseries.h5 --set finetune.adapter_init=ssl
define finetune_rule
$(WORK)/%/$(3)-f$(1).h5: $(WORK)/%/samples.h5 $(WORK)/%/ridge-f$(1).h5 $(WORK)/%/$(4) $$$$(call OTHERS_SAMPLES,$$$$*) \
                         $(if $(5),$(WORK)/%/timeseries.h5) $(CONFIG) $(V2C)/v2c-finetune
	$(LAUNCH) $(V2C)/v2c-finetune $(STAGE_FLAGS) --samples $$< --pretrained $(WORK)/$$*/$(4) \
	  --reference $$(call OTHERS_SAMPLES,$$*) --folds-from $(WORK)/$$*/ridge-f$(1).h5 \
	  --set finetune.mode=$(2) --model $(3) $(if $(5),$$(call SSL_FINETUNE_ARGS,$$*)) $(POOLED_FLAGS) --out $$@
endef
$(foreach f,$(FRACTIONS),\
  $(foreach m,adapter full,$(eval $(call finetune_rule,$(f),$(m),encoder-$(m),pretrained.h5))) \
  $(eval $(call finetune_rule,$(f),adapter,encoder-linear,pretrained-linear.h5)))
$(if $(SELF_SUPERVISED),$(foreach f,$(SSL_FRACTIONS),\
  $(foreach m,adapter full,$(eval $(call finetune_rule,$(f),$(m),encoder-ssl-$(m),pretrained-ssl.h5,ssl))) \
  $(eval $(call finetune_rule,$(f),full,encoder-ssl-only-full,pretrained-ssl-only.h5,ssl))))

# The encoder trained on the subject alone (no pretraining, every weight from scratch), same folds.
define scratch_rule
$(WORK)/%/encoder-scratch-f$(1).h5: $(WORK)/%/samples.h5 $(WORK)/%/ridge-f$(1).h5 $(CONFIG) $(V2C)/v2c-finetune
	$(LAUNCH) $(V2C)/v2c-finetune $(STAGE_FLAGS) --samples $$< --folds-from $(WORK)/$$*/ridge-f$(1).h5 --out $$@
endef
$(foreach f,$(FRACTIONS),$(eval $(call scratch_rule,$(f))))

# Functional alignment + ridge on every subject pooled (the others without the stimuli sub-XX is
# tested on), same folds.
define align_rule
$(WORK)/%/align-ridge-f$(1).h5: $(WORK)/%/samples.h5 $(WORK)/%/ridge-f$(1).h5 $$$$(call OTHERS_SAMPLES,$$$$*) \
                                $(CONFIG) $(V2C)/v2c-align
	$(LAUNCH) $(V2C)/v2c-align $(STAGE_FLAGS) --samples $$< --folds-from $(WORK)/$$*/ridge-f$(1).h5 \
	  --reference $$(call OTHERS_SAMPLES,$$*) $(POOLED_FLAGS) --out $$@
endef
$(foreach f,$(FRACTIONS),$(eval $(call align_rule,$(f))))

$(WORK)/%.retrieval.h5: $(WORK)/%.h5 $(WORK)/$$(dir $$*)samples.h5 $(CONFIG) $(V2C)/v2c-retrieve
	$(LAUNCH) $(V2C)/v2c-retrieve $(STAGE_FLAGS) --predictions $< --samples $(WORK)/$(dir $*)samples.h5 --out $@

$(WORK)/report/index.html: $(RETRIEVAL) $(PREDICTIONS) $(CONFIG) $(V2C)/v2c-report
	$(LAUNCH) $(V2C)/v2c-report $(STAGE_FLAGS) --study $(WORK) --out $(WORK)/report
endif
