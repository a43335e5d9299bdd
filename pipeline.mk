# The pipeline: real file dependencies, so an interrupted run resumes where it stopped, a changed
# config or binary re-runs only what depends on it, and `make -j2` prepares subjects in parallel.
#
#   make                                  the default simulated study (configs/default.yaml)
#   make CONFIG=configs/my.yaml           another simulated study, outputs in work/my/
#
# Outputs under work/<study>/:
#   bids/                      the simulated BIDS study (v2c-simulate)
#   sub-XX/samples.h5          one subject's samples (v2c-prepare)
#   sub-XX/ridge.h5            its ridge decoding, out-of-fold (v2c-ridge)

CONFIG  ?= configs/default.yaml
STUDY   ?= $(basename $(notdir $(CONFIG)))
WORK    ?= work/$(STUDY)
THREADS ?= 0
BIDS    := $(WORK)/bids
V2C     := $(BUILD)/bin
STAGE_FLAGS := --config $(CONFIG) --threads $(THREADS) --force

.PHONY: all run prepare-subjects
all: setup
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory run
	@echo "vox2clip: study '$(STUDY)' done: $(WORK)/sub-*/samples.h5 and ridge.h5"

# Two phases: the subjects are known once the study exists.
run: $(BIDS)/dataset_description.json
	@$(MAKE) --no-print-directory prepare-subjects

$(BIDS)/dataset_description.json: $(CONFIG) $(V2C)/v2c-simulate
	$(V2C)/v2c-simulate $(STAGE_FLAGS) --out $(BIDS)

SUBJECTS = $(notdir $(wildcard $(BIDS)/sub-*))
prepare-subjects: $(foreach s,$(SUBJECTS),$(WORK)/$(s)/samples.h5 $(WORK)/$(s)/ridge.h5)

$(WORK)/%/samples.h5: $(BIDS)/dataset_description.json $(CONFIG) $(V2C)/v2c-prepare
	$(V2C)/v2c-prepare $(STAGE_FLAGS) --bids $(BIDS) --subject $* --task sim \
	  --features $(BIDS)/stimuli/features.h5 --out $@

$(WORK)/%/ridge.h5: $(WORK)/%/samples.h5 $(CONFIG) $(V2C)/v2c-ridge
	$(V2C)/v2c-ridge $(STAGE_FLAGS) --samples $< --out $@
