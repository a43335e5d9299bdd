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
#   pretrain/encoder.h5              the shared encoder pretrained on the other subjects (v2c-pretrain)
#   sub-XX/encoder-MODE-fF.h5        the encoder fine-tuned on a held-out subject (v2c-finetune)
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
	@$(MAKE) --no-print-directory build
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
ENCODER_SUBJECTS := $(if $(PRETRAIN_SUBJECTS),$(HELDOUT),$(SUBJECTS))
MODES   := $(if $(PRETRAIN_SUBJECTS),adapter full,full)
ENCODER := $(WORK)/pretrain/encoder.h5
# study.self_supervised: a second encoder, its CLIP stage started by a self-supervised one
SSL_ENCODER := $(WORK)/pretrain/encoder-ssl.h5
SSL_ONLY_ENCODER := $(WORK)/pretrain/encoder-ssl-only.h5
FINETUNED_MODELS := $(MODES:%=encoder-%) \
  $(if $(and $(SELF_SUPERVISED),$(PRETRAIN_SUBJECTS)),$(MODES:%=encoder-ssl-%) encoder-ssl-only-full)
FINETUNED := $(if $(call HAVE,finetune),$(foreach s,$(ENCODER_SUBJECTS),$(foreach m,$(FINETUNED_MODELS),\
               $(foreach f,$(FRACTIONS),$(WORK)/$(s)/$(m)-f$(f).h5))))
PREDICTIONS := $(RIDGE) $(FINETUNED)
RETRIEVAL := $(if $(call HAVE,retrieve),$(PREDICTIONS:.h5=.retrieval.h5))
REPORT := $(if $(call HAVE,report),$(WORK)/report/index.html)

pipeline: $(SAMPLES) $(PREDICTIONS) $(RETRIEVAL) $(REPORT)

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

# The held-out subjects' test rows (any fraction's ridge output: they do not depend on it) name the
# stimuli pretraining leaves out.
HELDOUT_FOLDS := $(foreach h,$(HELDOUT),$(WORK)/$(h)/ridge-f$(lastword $(FRACTIONS)).h5)
$(ENCODER): $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5) $(HELDOUT_FOLDS) $(CONFIG) $(V2C)/v2c-pretrain
	@mkdir -p $(@D)
	$(PRETRAIN_LAUNCH) $(V2C)/v2c-pretrain $(STAGE_FLAGS) --samples $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5) \
	  $(foreach h,$(HELDOUT),--heldout-samples $(WORK)/$(h)/samples.h5 --heldout-folds $(WORK)/$(h)/ridge-f$(lastword $(FRACTIONS)).h5) --out $@

$(SSL_ENCODER): $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5 $(WORK)/$(s)/timeseries.h5) $(HELDOUT_FOLDS) \
                $(CONFIG) $(V2C)/v2c-pretrain
	@mkdir -p $(@D)
	$(PRETRAIN_LAUNCH) $(V2C)/v2c-pretrain $(STAGE_FLAGS) --samples $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5) \
	  $(foreach h,$(HELDOUT),--heldout-samples $(WORK)/$(h)/samples.h5 --heldout-folds $(WORK)/$(h)/ridge-f$(lastword $(FRACTIONS)).h5) \
	  --timeseries $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/timeseries.h5) --ssl-out $(SSL_ONLY_ENCODER) --out $@
# the same call's self-supervised stage alone (untrained backbone): fine-tuned in full mode only
$(SSL_ONLY_ENCODER): $(SSL_ENCODER) ;

# The one fold definition: the training rows of ridge at the same fraction (ridge-fF.h5).
define finetune_rule
$(WORK)/%/encoder-$(2)-f$(1).h5: $(WORK)/%/samples.h5 $(WORK)/%/ridge-f$(1).h5 $(if $(PRETRAIN_SUBJECTS),$(ENCODER) \
                                 $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5)) \
                                 $(CONFIG) $(V2C)/v2c-finetune
	$(LAUNCH) $(V2C)/v2c-finetune $(STAGE_FLAGS) --samples $$< \
	  $(if $(PRETRAIN_SUBJECTS),--pretrained $(ENCODER) --reference $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5)) \
	  --folds-from $(WORK)/$$*/ridge-f$(1).h5 --set finetune.mode=$(2) --out $$@
endef
$(foreach f,$(FRACTIONS),$(foreach m,$(MODES),$(eval $(call finetune_rule,$(f),$(m)))))

# The self-supervised encoder's, under the same folds (pretraining subjects only: the fine-tuned
# subject's time series is not used).
# $(3): the model name, $(4): its checkpoint
define finetune_ssl_rule
$(WORK)/%/$(3)-$(2)-f$(1).h5: $(WORK)/%/samples.h5 $(WORK)/%/ridge-f$(1).h5 $(4) \
                              $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5) $(CONFIG) $(V2C)/v2c-finetune
	$(LAUNCH) $(V2C)/v2c-finetune $(STAGE_FLAGS) --samples $$< --pretrained $(4) \
	  --reference $(foreach s,$(PRETRAIN_SUBJECTS),$(WORK)/$(s)/samples.h5) --folds-from $(WORK)/$$*/ridge-f$(1).h5 \
	  --set finetune.mode=$(2) --model $(3)-$(2) --out $$@
endef
$(if $(and $(SELF_SUPERVISED),$(PRETRAIN_SUBJECTS)),$(foreach f,$(FRACTIONS),\
  $(foreach m,$(MODES),$(eval $(call finetune_ssl_rule,$(f),$(m),encoder-ssl,$(SSL_ENCODER)))) \
  $(eval $(call finetune_ssl_rule,$(f),full,encoder-ssl-only,$(SSL_ONLY_ENCODER)))))

$(WORK)/%.retrieval.h5: $(WORK)/%.h5 $(WORK)/$$(dir $$*)samples.h5 $(CONFIG) $(V2C)/v2c-retrieve
	$(LAUNCH) $(V2C)/v2c-retrieve $(STAGE_FLAGS) --predictions $< --samples $(WORK)/$(dir $*)samples.h5 --out $@

$(WORK)/report/index.html: $(RETRIEVAL) $(PREDICTIONS) $(CONFIG) $(V2C)/v2c-report
	$(LAUNCH) $(V2C)/v2c-report $(STAGE_FLAGS) --study $(WORK) --out $(WORK)/report
endif
