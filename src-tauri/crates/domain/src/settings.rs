//! The words of the app's settings, typed: each is stored, sent to the UI
//! and read back as the same text.

crate::text_enum! {
    /// How answers are made: `Auto` lets the app pick the fastest measured
    /// mode; the others are the [`crate::Mode`]s.
    pub enum ModeChoice ("mode") { Auto = "auto", Plain = "plain", Sd = "sd", Lr = "lr", SdLr = "sd+lr" }
}

impl ModeChoice {
    /// The mode chosen, `None` for `Auto`.
    pub fn mode(self) -> Option<crate::Mode> {
        match self {
            ModeChoice::Auto => None,
            ModeChoice::Plain => Some(crate::Mode::Plain),
            ModeChoice::Sd => Some(crate::Mode::Sd),
            ModeChoice::Lr => Some(crate::Mode::Lr),
            ModeChoice::SdLr => Some(crate::Mode::SdLr),
        }
    }
}

crate::text_enum! {
    /// How drafted steps are judged: by the meaning of the two texts
    /// (embedding similarity) or by asking a model.
    pub enum JudgeKind ("judge") { Embed = "embed", Llm = "llm" }
}

crate::text_enum! {
    /// Which model answers the LLM judge.
    pub enum JudgeModel ("judge model") { Draft = "draft", Target = "target", Embedding = "embedding" }
}

crate::text_enum! {
    /// What guesses the next words in word drafting: the text so far
    /// (n-grams) or the helper model.
    pub enum SdProposer ("proposer") { Ngram = "ngram", Draft = "draft" }
}

crate::text_enum! {
    /// The colour scheme.
    pub enum Theme ("theme") { System = "system", Light = "light", Dark = "dark" }
}

crate::text_enum! {
    /// Where the models run: this computer, or an inference server on the
    /// network.
    pub enum ModelsLocation ("models location") { ThisComputer = "this_computer", Server = "server" }
}
